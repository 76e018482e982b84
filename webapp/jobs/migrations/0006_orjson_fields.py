# The columns are unchanged (text on SQLite, jsonb on PostgreSQL): only the Python field that encodes them is
# new, so the state changes and the database is left alone (SQLite would otherwise copy the table three times).
import webapp.core.json
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0005_queued_at_default'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='job',
                name='input',
                field=webapp.core.json.JSONField(blank=True, default=dict),
            ),
            migrations.AlterField(
                model_name='job',
                name='progress',
                field=webapp.core.json.JSONField(blank=True, help_text='Latest progress report of a long job.', null=True),
            ),
            migrations.AlterField(
                model_name='job',
                name='result',
                field=webapp.core.json.JSONField(blank=True, null=True),
            ),
        ]),
    ]
