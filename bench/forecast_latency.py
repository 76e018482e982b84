"""Forecast latency, in process, one request at a time, per shipped forecaster: the network's forecast alone
(Forecaster.forecast: the window, one forward pass) and the whole answer a worker builds (ml.forecast.report:
the network, the rules' forecasts and intervals, the verdict).

    .venv/bin/python bench/forecast_latency.py                          # every models/forecast-* directory
    .venv/bin/python bench/forecast_latency.py models/forecast-co2-lstm --runs 50 --horizon 30 --threads 1

The issue's yardstick is a 30-step forecast (a model that forecasts fewer steps is timed at its own horizon).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lm_latency import timeit  # noqa: E402  (median and p95, the same way for every model)
from ml.forecast.data import builtin  # noqa: E402
from ml.forecast.forecaster import Forecaster  # noqa: E402
from ml.forecast.report import report  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dirs", nargs="*")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 = what a worker process uses)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dirs = args.model_dirs or sorted(str(p) for p in (ROOT / "models").glob("forecast-*") if p.is_dir())
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, runs={args.runs}, times in ms")
    print(f"{'model':28s} {'steps':>5s} {'forecast p50':>12s} {'p95':>8s} {'answer p50':>11s} {'p95':>8s}")
    for directory in dirs:
        forecaster = Forecaster.from_dir(directory)
        series = builtin(forecaster.config["series"]["name"])
        metrics = json.loads((Path(directory) / "metrics.json").read_text())
        steps = min(args.horizon, forecaster.horizon)
        f50, f95 = timeit(lambda: forecaster.forecast(series.values, steps), args.runs)
        a50, a95 = timeit(lambda: report(series, forecaster, steps, metrics.get("backtest"),
                                         metrics.get("end_forecasts")), args.runs)
        print(f"{Path(directory).name:28s} {steps:5d} {f50:12.2f} {f95:8.2f} {a50:11.2f} {a95:8.2f}", flush=True)


if __name__ == "__main__":
    main()
