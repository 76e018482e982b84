"""Train a translator: a thin wrapper over ml.translate.train (every TranslateConfig field is an option).

    python manage.py train_translator --target de                          # run in var/runs/translate-en-de
    python manage.py train_translator --target de --resume                 # continue after a stop (or SIGTERM)
    python manage.py train_translator --target de --attention none         # the no-attention comparison model
    python manage.py train_translator ... --export-dir models/translate-en-de   # ship best/ (float16) at the end

Nothing is written under models/ without --export-dir.
"""
from pathlib import Path

from django.conf import settings

from ml.translate.train import TranslateConfig, train
from webapp.training.commands import TrainCommand


def default_run_dir(options: dict) -> str:
    """var/runs/translate-<source>-<target>[-noattn]."""
    pair = f"{options.get('source') or TranslateConfig.source}-{options.get('target') or TranslateConfig.target}"
    suffix = "-noattn" if options.get("attention") == "none" else ""
    return str(Path(settings.VAR_DIR) / "runs" / f"translate-{pair}{suffix}")


class Command(TrainCommand):
    help = "Train (or resume) an English -> German/French translator (ml.translate)."
    config_class = TranslateConfig
    run_dir_help = "var/runs/translate-<source>-<target>"

    def train(self, cfg, on_progress, should_stop):
        return train(cfg, on_progress=on_progress, should_stop=should_stop)

    def default_run_dir(self, options):
        return default_run_dir(options)

    def summary(self, result):
        return (f"status={result['status']} best_val_bleu={result['best']} "
                f"run_dir={result['run_dir']} export_dir={result['export_dir']}")
