"""The shape every `train_<task>` management command shares: one option per field of the task's config
(ml.training.cli), a clean stop on SIGTERM / Ctrl-C, progress events printed as JSON lines."""
import json
import shlex
import sys

from django.core.management.base import BaseCommand, CommandError

from ml.training.cli import add_arguments, from_options, stop_on_signals


class TrainCommand(BaseCommand):
    config_class = None             # the task's TrainConfig subclass
    run_dir_help = ""               # how the default run directory is named, for --help

    def train(self, cfg, on_progress, should_stop):
        raise NotImplementedError

    def default_run_dir(self, options: dict) -> str:
        raise NotImplementedError

    def summary(self, result: dict) -> str:
        """The last line printed: the final status and where things are."""
        raise NotImplementedError

    def add_arguments(self, parser):
        add_arguments(parser, self.config_class, defaults={"run_dir": self.run_dir_help})
        parser.add_argument("--quiet", action="store_true", help="print epoch ends only, not every step")

    def handle(self, *args, **options):
        try:
            cfg = from_options(self.config_class, options, defaults={"run_dir": self.default_run_dir(options)})
            cfg.command = "python manage.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            result = self.train(cfg, on_progress=self.printer(options["quiet"]), should_stop=stop_on_signals())
        except (ValueError, FileNotFoundError) as e:
            raise CommandError(str(e))
        self.stdout.write(self.summary(result))

    def printer(self, quiet: bool):
        def show(event):
            if not quiet or event["event"] != "step":
                self.stdout.write(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                              for k, v in event.items() if k != "history"}))
                self.stdout.flush()
        return show
