from django.core.management.base import BaseCommand, CommandError

from webapp.registry import services
from webapp.registry.models import ModelVersion


class Command(BaseCommand):
    help = "List model versions, activate one, or roll a slot back to its previous version."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "activate", "rollback"])
        parser.add_argument("target", nargs="?", help="version id (activate) or KIND:SLOT, e.g. lm:ptb-lstm (rollback)")

    def handle(self, action, target=None, **options):
        if action == "list":
            for v in ModelVersion.objects.all():
                flag = "*" if v.is_active else " "
                self.stdout.write(f"{flag} {v.pk:4} {v.kind:8} {v.slot:22} v{v.version:<3} {v.label}  {v.metrics.get('valid_ppl', '')}")
            return
        if not target:
            raise CommandError(f"{action} needs a target")
        if action == "activate":
            version = ModelVersion.objects.filter(pk=target).first()
            if version is None:
                raise CommandError(f"no model version {target}")
            services.activate(version)
            self.stdout.write(f"activated {version.name}")
        else:
            kind, _, slot = target.partition(":")
            previous = services.rollback(kind, slot)
            if previous is None:
                raise CommandError(f"{target} has no earlier version to roll back to")
            self.stdout.write(f"rolled back to {previous.name}")
