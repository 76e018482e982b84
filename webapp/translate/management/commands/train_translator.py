"""Train a translator: a thin wrapper over ml.translate.train (every TranslateConfig field is an option).

    python manage.py train_translator --target de                          # run in var/runs/translate-en-de
    python manage.py train_translator --target de --resume                 # continue after a stop (or SIGTERM)
    python manage.py train_translator --target de --attention none         # the no-attention comparison model
    python manage.py train_translator ... --export-dir models/translate-en-de   # ship best/ (float16) at the end

Nothing is written under models/ without --export-dir.
"""
import json
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.training.cli import add_arguments, from_options, stop_on_signals
from ml.translate.train import TranslateConfig, train


def default_run_dir(options: dict) -> str:
    """var/runs/translate-<source>-<target>[-noattn]."""
    pair = f"{options.get('source') or TranslateConfig.source}-{options.get('target') or TranslateConfig.target}"
    suffix = "-noattn" if options.get("attention") == "none" else ""
    return str(Path(settings.VAR_DIR) / "runs" / f"translate-{pair}{suffix}")


class Command(BaseCommand):
    help = "Train (or resume) an English -> German/French translator (ml.translate)."

    def add_arguments(self, parser):
        add_arguments(parser, TranslateConfig, defaults={"run_dir": "var/runs/translate-<source>-<target>"})
        parser.add_argument("--quiet", action="store_true", help="print epoch ends only, not every step")

    def handle(self, *args, **options):
        try:
            cfg = from_options(TranslateConfig, options, defaults={"run_dir": default_run_dir(options)})
            cfg.command = "python manage.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            result = train(cfg, on_progress=self.printer(options["quiet"]), should_stop=stop_on_signals())
        except (ValueError, FileNotFoundError) as e:
            raise CommandError(str(e))
        self.stdout.write(f"status={result['status']} best_val_bleu={result['best']} "
                          f"run_dir={result['run_dir']} export_dir={result['export_dir']}")

    def printer(self, quiet: bool):
        def show(event):
            if not quiet or event["event"] != "step":
                self.stdout.write(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                              for k, v in event.items() if k != "history"}))
                self.stdout.flush()
        return show
