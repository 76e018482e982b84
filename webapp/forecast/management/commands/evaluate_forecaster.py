"""Backtest the recurrent forecaster against the baselines on a series: rolling-origin on its last 20 %.

    python manage.py evaluate_forecaster --csv sales.csv --column units --horizon 12 --season 12 --json
    python manage.py evaluate_forecaster --series co2 --horizon 52 --budget 120
    python manage.py evaluate_forecaster --model models/forecast-co2-lstm --record     # a trained model as it is

With --csv or --series the network is trained first, on the first 80 % only (its last 15 % choosing the epoch),
within --budget seconds. Prints {"rnn": {"mae", "rmse", "mape", "mase", "coverage", "direction"}, "naive": {...},
"seasonal_naive", "drift", "ets", "arima", "n_test", "n_origins", "seconds", ...}. ``--record`` stores the
backtest in the model's metrics.json, with the ETS and ARIMA forecasts from the series' end that the page draws.
"""
import json
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

METHODS = ("naive", "seasonal_naive", "drift", "ets", "arima")


class Command(BaseCommand):
    help = "Train an RNN forecaster on a series' first 80 % and backtest it against the baselines on the rest."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", help="a CSV file: a date or position column and a numeric column")
        source.add_argument("--series", help="a built-in series: sp500, nasdaq, oil, vix, co2, sunspots, elnino")
        source.add_argument("--model", help="backtest this trained model directory on its own series instead")
        parser.add_argument("--column", default="", help="the CSV's value column (default: its only numeric one)")
        parser.add_argument("--horizon", type=int, default=1, help="steps ahead (default 1)")
        parser.add_argument("--season", type=int, default=-1, help="steps per season (default: from the dates)")
        parser.add_argument("--budget", type=float, default=120, help="training seconds at most (default 120)")
        parser.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
        parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--methods", default=",".join(METHODS), help="baselines to run, comma-separated")
        parser.add_argument("--run-dir", default="", help="keep the training run here (default: a temporary one)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--record", action="store_true", help="with --model: store it in metrics.json")

    def handle(self, *args, **opts):
        from ml.forecast.data import SeriesError

        methods = tuple(m for m in opts["methods"].split(",") if m)
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise CommandError(f"unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
        try:
            result = self.backtest_model(opts, methods) if opts["model"] else self.train_and_backtest(opts, methods)
        except (SeriesError, ValueError, FileNotFoundError) as error:
            raise CommandError(str(error))
        if opts["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(report(result))

    def train_and_backtest(self, opts, methods) -> dict:
        from ml.forecast.evaluate import evaluate_series
        from ml.forecast.train import ForecastConfig

        run_dir = opts["run_dir"] or tempfile.mkdtemp(prefix="evaluate-forecaster-", dir=_tmp_dir())
        cfg = ForecastConfig(csv=opts["csv"] or "", series=opts["series"] or "", column=opts["column"],
                             horizon=opts["horizon"], season=opts["season"], cell=opts["cell"],
                             time_budget_min=opts["budget"] / 60, threads=opts["threads"], seed=opts["seed"],
                             run_dir=str(Path(run_dir) / "run"))
        try:
            return evaluate_series(cfg, methods=methods)
        finally:
            if not opts["run_dir"]:
                shutil.rmtree(run_dir, ignore_errors=True)

    def backtest_model(self, opts, methods) -> dict:
        import torch

        from ml.forecast.evaluate import backtest_model, record

        if opts["threads"]:
            torch.set_num_threads(opts["threads"])
        return record(opts["model"], methods) if opts["record"] else backtest_model(opts["model"], methods)


def _tmp_dir() -> str:
    path = Path(settings.VAR_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def report(result: dict) -> str:
    lines = [f"{'method':16s} {'MAE':>10s} {'RMSE':>10s} {'MASE':>7s} {'coverage':>9s} {'direction':>9s}"]
    for name, row in result.items():
        if not isinstance(row, dict) or ("mae" not in row and "error" not in row):
            continue
        if "error" in row:
            lines.append(f"{name:16s} failed: {row['error']}")
            continue
        direction = (row.get("direction") or {}).get("accuracy")
        coverage = "" if row["coverage"] is None else f"{row['coverage']:.0%}"
        direction = "" if direction is None else f"{direction:.1%}"
        mase = "" if row["mase"] is None else f"{row['mase']:.3f}"
        lines.append(f"{name:16s} {row['mae']:10.4g} {row['rmse']:10.4g} {mase:>7s} {coverage:>9s} {direction:>9s}")
    lines.append(f"{result['n_origins']} origins over the last {result['n_test']} points, horizon "
                 f"{result['horizon']}, season {result['season']}, {result['seconds']} s")
    return "\n".join(lines)
