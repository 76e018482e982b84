"""Rolling-origin (walk-forward) evaluation on the test part, the same origins for every method, and the
metrics a forecast is judged by.

At each origin t in the test part (every ``stride``-th, whole horizons only) each method forecasts
t+1 .. t+H from the data up to t; errors are pooled over all origins and steps.

- MAE, RMSE, MAPE (%, points whose actual value is 0 left out).
- MASE: MAE divided by the in-sample MAE of the one-step naive forecast (the seasonal naive one when the
  series has a season) on the training part (Hyndman & Koehler 2006). Below 1 beats that yardstick.
- coverage: the share of actual values inside the method's interval (nominally ``coverage``).
- direction (one step ahead): the share of origins where the forecast moved the way the series did (origins
  where it did not move left out), against "always up" with a one-sided binomial test (scipy); none for a
  method that never forecasts a move (naive).
"""
from __future__ import annotations

import time

import numpy as np

from . import baselines
from .baselines import Forecasts
from .data import Split

MAX_ORIGINS = 500


def origins_for(split: Split, horizon: int, max_origins: int = MAX_ORIGINS) -> np.ndarray:
    """Test origins: from the last point before the test part to the last one with a whole horizon after it."""
    origins = np.arange(split.fit_end - 1, split.n - horizon)
    if len(origins) < 1:
        raise ValueError(f"the test part ({split.n - split.fit_end} points) is shorter than the horizon ({horizon})")
    stride = int(np.ceil(len(origins) / max_origins))
    return origins[::stride]


def actuals(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return values[origins[:, None] + np.arange(1, horizon + 1)[None, :]]


def mase_scale(values: np.ndarray, train_end: int, season: int) -> float:
    lag = season if season >= 2 and train_end > season + 1 else 1
    train = values[:train_end]
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


def direction(values: np.ndarray, origins: np.ndarray, first_step: np.ndarray) -> dict:
    """One-step-ahead direction accuracy against always up, with its binomial p-value."""
    from scipy.stats import binomtest
    moved = np.sign(values[origins + 1] - values[origins])
    called = np.sign(first_step - values[origins])
    keep = moved != 0
    n = int(keep.sum())
    if n == 0 or not called[keep].any():     # no move to call, or a method that never calls one (naive)
        return {"accuracy": None, "always_up": None, "p_value": None, "n": 0}
    correct = int((called[keep] == moved[keep]).sum())
    always_up = float((moved[keep] > 0).mean())
    p_value = binomtest(correct, n, always_up, alternative="greater").pvalue if 0 < always_up < 1 else 1.0
    return {"accuracy": round(correct / n, 4), "always_up": round(always_up, 4), "p_value": round(float(p_value), 4),
            "n": n}


def scores(forecasts: Forecasts, truth: np.ndarray, scale: float, values: np.ndarray, origins: np.ndarray) -> dict:
    error = forecasts.median - truth
    nonzero = truth != 0
    result = {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error ** 2))),
        "mape": float(np.mean(np.abs(error[nonzero] / truth[nonzero])) * 100) if nonzero.any() else None,
        "mase": float(np.mean(np.abs(error)) / scale) if scale > 0 else None,
        "coverage": (float(np.mean((truth >= forecasts.lower) & (truth <= forecasts.upper)))
                     if forecasts.lower is not None else None),
        "direction": direction(values, origins, forecasts.median[:, 0]),
    }
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}


def backtest(values: np.ndarray, split: Split, horizon: int, season: int, rnn_forecasts=None,
             methods: tuple[str, ...] = ("naive", "seasonal_naive", "drift", "ets", "arima"),
             coverage: float = 0.9, max_origins: int = MAX_ORIGINS) -> dict:
    """Every method at the same test origins -> {"<method>": scores + "seconds", "n_test", "n_origins",
    "horizon", "season"}. ``rnn_forecasts(values, origins) -> Forecasts`` adds the network as "rnn"."""
    origins = origins_for(split, horizon, max_origins)
    truth = actuals(values, origins, horizon)
    scale = mase_scale(values, split.train_end, season)
    result = {}
    runners = {}
    if rnn_forecasts is not None:
        runners["rnn"] = lambda: (rnn_forecasts(values, origins), {})
    for name in methods:
        if name in baselines.RULES:
            runners[name] = (lambda n=name: (baselines.rule(n, values, origins, horizon, season, split.fit_end,
                                                             coverage), {}))
        else:
            runners[name] = (lambda n=name: getattr(baselines, n)(values, origins, horizon, season, split.fit_end,
                                                                    coverage))
    for name, run in runners.items():
        started = time.perf_counter()
        try:
            forecasts, details = run()
        except (ValueError, np.linalg.LinAlgError) as error:      # a statsmodels fit can fail on odd data
            result[name] = {"error": str(error)}
            continue
        result[name] = {**scores(forecasts, truth, scale, values, origins), **details,
                        "seconds": round(time.perf_counter() - started, 2)}
    return {**result, "n_test": int(split.n - split.fit_end), "n_origins": int(len(origins)), "horizon": horizon,
            "season": season, "mase_scale": round(scale, 6)}


# ETS carries one state per step of the season: with a long season (52 weeks) one fit takes minutes.
ETS_MAX_SEASON = 24


def quick_methods(season: int) -> tuple[str, ...]:
    """The baselines worth fitting when time is short: all but ETS on a long season."""
    return ("naive", "seasonal_naive", "drift", "arima") + (("ets",) if season <= ETS_MAX_SEASON else ())


def backtest_forecaster(forecaster, series, methods, season: int | None = None) -> dict:
    """backtest() of a loaded forecaster on the series it was trained on (its own split), beside ``methods``."""
    from .forecaster import predict

    return backtest(series.values, Split(**forecaster.config["split"]), forecaster.horizon,
                    series.season if season is None else season,
                    lambda values, origins: predict(forecaster.model, values, origins, forecaster.scale),
                    methods=methods, coverage=forecaster.model.cfg.coverage)


def evaluate_series(cfg, on_progress=None, methods=("naive", "seasonal_naive", "drift", "ets", "arima"),
                    should_stop=None, before_baselines=None) -> dict:
    """Train the network on ``cfg``'s series (ml.forecast.train, within ``cfg.time_budget_min``), then backtest
    it and every baseline on the test part -> backtest() + {"series", "rnn_training", "seconds"}, or
    {"status": "cancelled", ...} when ``should_stop()`` ended the training. ``before_baselines()`` is called
    between the two (a progress report)."""
    from ..training.run import CANCELLED
    from .forecaster import Forecaster
    from .train import load_series, train

    started = time.perf_counter()
    done = train(cfg, on_progress=on_progress, should_stop=should_stop)
    training = {k: done.get(k) for k in ("status", "epoch", "best_epoch", "elapsed_s", "best_dir")}
    if done["status"] == CANCELLED:
        return {"status": CANCELLED, "rnn_training": training}
    if not done["best_dir"]:
        raise ValueError(f"training ended ({done['status']}) before any epoch was validated")
    if before_baselines is not None:
        before_baselines()
    series = load_series(cfg)
    result = backtest_forecaster(Forecaster.from_dir(done["best_dir"]), series, methods)
    result["series"] = {"name": series.name, "n": len(series), "frequency": series.frequency, "unit": series.unit}
    result["rnn_training"] = training
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def backtest_model(model_dir, methods=("naive", "seasonal_naive", "drift", "ets", "arima")) -> dict:
    """A model directory's network and ``methods`` on the test part of the series it was trained on."""
    return _backtest_dir(model_dir, methods)[0]


def _backtest_dir(model_dir, methods):
    """-> (backtest + "seconds", the loaded forecaster, its series)."""
    from .data import model_series
    from .forecaster import Forecaster

    started = time.perf_counter()
    forecaster = Forecaster.from_dir(model_dir)
    series = model_series(model_dir, forecaster.config)
    result = backtest_forecaster(forecaster, series, methods, season=forecaster.config["series"]["season"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result, forecaster, series


def record(model_dir, methods=("naive", "seasonal_naive", "drift", "ets", "arima")) -> dict:
    """Backtest a model directory and store the result in its metrics.json ("backtest"), with the statsmodels
    models' forecasts from the series' end ("end_forecasts") that a page draws without refitting them.
    ``methods=None``: quick_methods() for the model's season."""
    import json
    from pathlib import Path

    from .report import statsmodels_forecasts

    if methods is None:
        methods = quick_methods(json.loads((Path(model_dir) / "config.json").read_text())["series"]["season"])
    result, forecaster, series = _backtest_dir(model_dir, methods)
    path = Path(model_dir) / "metrics.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    metrics["backtest"] = result
    metrics["end_forecasts"] = statsmodels_forecasts(series, forecaster.horizon,
                                                     [m for m in methods if m in ("ets", "arima")],
                                                     forecaster.model.cfg.coverage)
    path.write_text(json.dumps(metrics, indent=2))
    return result


def train_and_record(cfg, on_progress=None, should_stop=None) -> dict:
    """ml.forecast.train.train(), then, when it exported a model, that model's backtest recorded with it
    (quick_methods): what an admin training run does, so a new version shows its table on the forecast page."""
    from .train import train

    done = train(cfg, on_progress=on_progress, should_stop=should_stop)
    if done.get("export_dir"):
        record(done["export_dir"], methods=None)
    return done
