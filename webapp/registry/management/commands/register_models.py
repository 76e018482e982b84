from django.core.management.base import BaseCommand

from webapp.registry import services


class Command(BaseCommand):
    help = "Register the checkpoint directories under MODELS_DIR (shipped models) and activate any slot left empty."

    def add_arguments(self, parser):
        parser.add_argument("--models-dir", help="Defaults to settings.MODELS_DIR.")

    def handle(self, *args, models_dir=None, **options):
        new = services.register_shipped_models(models_dir)
        for version in new:
            self.stdout.write(f"registered {version.name} from {version.path}")
        for version in services.active_versions():
            self.stdout.write(f"active: {version.name} ({version.label})")
