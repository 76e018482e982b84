from django.db import migrations, models
import django.db.models.deletion


def guess_previous_of_active_versions(apps, schema_editor):
    """Rows activated before this migration never recorded what they replaced. For each active version, the
    other version of its slot activated last before it is the best evidence of what it replaced (the one the
    old roll-back would have picked), so the first roll-back after the upgrade still works; older history is
    unknown and stays empty."""
    ModelVersion = apps.get_model("registry", "ModelVersion")
    for active in ModelVersion.objects.filter(is_active=True, activated_at__isnull=False):
        replaced = (ModelVersion.objects.filter(kind=active.kind, slot=active.slot, activated_at__isnull=False,
                                                activated_at__lte=active.activated_at)
                    .exclude(pk=active.pk).order_by("-activated_at").first())
        if replaced:
            ModelVersion.objects.filter(pk=active.pk).update(previous=replaced)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0002_alter_modelversion_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="previous",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to="registry.modelversion",
                help_text="The version that served the slot when this one was activated; roll back re-activates it.",
            ),
        ),
        migrations.RunPython(guess_previous_of_active_versions, migrations.RunPython.noop),
    ]
