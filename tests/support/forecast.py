"""Series and a small forecaster for the forecast tests: any clone makes them in seconds."""
import json

import numpy as np


def seasonal_values(n: int = 240, season: int = 12, seed: int = 0) -> list[float]:
    """A trend, a strong season and a little noise: what a network should forecast far better than naive."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return [round(float(v), 4) for v in 50 + 0.05 * t + 10 * np.sin(2 * np.pi * t / season) + rng.normal(0, 0.5, n)]


def csv_text(values, dates=True, start="2000-01") -> str:
    """A two-column CSV of monthly dates (or positions) and the values."""
    if dates:
        months = np.datetime64(start, "M") + np.arange(len(values))
        rows = [f"{m}-01,{v}" for m, v in zip(months, values)]
        return "month,value\n" + "\n".join(rows) + "\n"
    return "step,value\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values)) + "\n"


def tiny_forecaster(directory):
    """Train a small LSTM on the yearly sunspots (11 steps ahead) for a few seconds, export it as a shipped model
    and record its backtest against the rules -> the model directory."""
    from ml.forecast.evaluate import backtest_model
    from ml.forecast.train import ForecastConfig, train

    export = directory / "forecast-sunspots-lstm"
    train(ForecastConfig(series="sunspots", horizon=11, hidden=16, epochs=20, patience=20, time_budget_min=0.1,
                         threads=1, run_dir=str(directory / "run"), export_dir=str(export)))
    result = backtest_model(export, methods=("naive", "seasonal_naive", "drift"))
    metrics = json.loads((export / "metrics.json").read_text())
    (export / "metrics.json").write_text(json.dumps({**metrics, "backtest": result}))
    return export
