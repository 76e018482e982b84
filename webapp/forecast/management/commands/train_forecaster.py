"""Train a forecaster: a thin wrapper over ml.forecast.train (every ForecastConfig field is an option).

    python manage.py train_forecaster --series co2 --horizon 52                 # run in var/runs/forecast-co2-lstm
    python manage.py train_forecaster --csv sales.csv --horizon 12 --cell gru
    python manage.py train_forecaster ... --export-dir models/forecast-co2-lstm  # ship best/ (float16) at the end

Nothing is written under models/ without --export-dir.
"""
from pathlib import Path

from django.conf import settings

from ml.forecast.train import ForecastConfig, train
from webapp.training.commands import TrainCommand


def default_run_dir(options: dict) -> str:
    """var/runs/forecast-<series or CSV name>-<cell>."""
    name = options.get("series") or Path(options.get("csv") or "series").stem
    return str(Path(settings.VAR_DIR) / "runs" / f"forecast-{name}-{options.get('cell') or ForecastConfig.cell}")


class Command(TrainCommand):
    help = "Train (or resume) an RNN / LSTM / GRU forecaster on a built-in series or a CSV (ml.forecast)."
    config_class = ForecastConfig
    run_dir_help = "var/runs/forecast-<series>-<cell>"

    def train(self, cfg, on_progress, should_stop):
        return train(cfg, on_progress=on_progress, should_stop=should_stop)

    def default_run_dir(self, options):
        return default_run_dir(options)

    def summary(self, result):
        return (f"status={result['status']} best_val_mae={result['best']} best_epoch={result['best_epoch']} "
                f"run_dir={result['run_dir']} export_dir={result['export_dir']}")
