"""What a forecast answer shows: the recent history, every method's forecast from the series' end, the backtest
and a plain statement of what its numbers mean.

    answer = report(series, forecaster, horizon=52, backtest=metrics["backtest"])

The network and the rules (naive, seasonal naive, drift) forecast from the last point now; the statsmodels
models (ETS, ARIMA) take seconds to fit, so their forecasts from the end are passed in when a shipped model
stored them, and left out otherwise.
"""
from __future__ import annotations

import numpy as np

from . import baselines
from .data import Series

RULES = ("naive", "seasonal_naive", "drift")
NAMES = {"rnn": "RNN", "naive": "Naive (tomorrow = today)", "seasonal_naive": "Seasonal naive",
         "drift": "Drift", "ets": "ETS (statsmodels)", "arima": "ARIMA (statsmodels)"}
HISTORY_POINTS = 2000         # at most this many past points are drawn


def future_index(series: Series, horizon: int) -> list[str]:
    """Labels of the ``horizon`` steps after the last point, in the style of the series' own labels."""
    last = series.index[-1] if series.index else str(len(series) - 1)
    steps = np.arange(1, horizon + 1)
    try:
        if last.lstrip("-").isdigit() and series.frequency != "yearly":
            return [str(int(last) + int(k)) for k in steps]                  # positions
        if series.frequency == "yearly" and last.isdigit():
            return [str(int(last) + int(k)) for k in steps]
        if len(last) == 7:                                                   # YYYY-MM
            return [str(np.datetime64(last, "M") + int(k)) for k in steps]
        day = np.datetime64(last[:10], "D")
        if series.kind == "price" and series.frequency == "daily":           # markets trade on weekdays
            return [str(np.busday_offset(day, int(k), roll="forward")) for k in steps]
        recent = np.array([np.datetime64(d[:10], "D") for d in series.index[-11:]])
        gap = int(np.median(np.diff(recent)).astype(int)) if len(recent) > 1 else 1
        if 28 <= gap <= 31:
            return [str(np.datetime64(last[:7], "M") + int(k)) for k in steps]
        return [str(day + int(k) * max(gap, 1)) for k in steps]
    except ValueError:
        return [f"+{k}" for k in steps]


def _rounded(array) -> list[float]:
    return [round(float(v), 6) for v in array]


def rule_forecasts(series: Series, horizon: int, coverage: float = 0.9) -> dict:
    """{rule: {"median", "lower", "upper"}} for the steps after the last point; intervals from the whole series."""
    values, origin = series.values, np.array([len(series) - 1])
    answers = {}
    for name in RULES:
        if name == "seasonal_naive" and not series.season:
            continue
        forecast = baselines.rule(name, values, origin, horizon, series.season, len(values), coverage)
        answers[name] = {key: _rounded(getattr(forecast, key)[0]) for key in ("median", "lower", "upper")
                         if getattr(forecast, key) is not None}
    return answers


def statsmodels_forecasts(series: Series, horizon: int, methods=("ets", "arima"), coverage: float = 0.9) -> dict:
    """{method: {"median", "lower", "upper"}} of the statsmodels models fitted on the whole series, forecasting
    the steps after its end (seconds to minutes: a shipped model stores these with its metrics)."""
    values, origin = series.values, np.array([len(series) - 1])
    answers = {}
    for method in methods:
        try:
            forecast, _ = getattr(baselines, method)(values, origin, horizon, series.season, len(values), coverage)
        except (ValueError, np.linalg.LinAlgError):
            continue
        answers[method] = {key: _rounded(getattr(forecast, key)[0]) for key in ("median", "lower", "upper")}
    return answers


def verdict(backtest: dict, series: Series, cell: str = "rnn") -> list[str]:
    """Sentences a visitor can read without the table: does the network beat the bar that matters here, and for
    a market price, is its direction better than always guessing up?"""
    rnn, naive = backtest.get("rnn") or {}, backtest.get("naive") or {}
    if "mae" not in rnn or "mae" not in naive:
        return []
    name = cell.upper()
    sentences = []
    ratio = rnn["mae"] / naive["mae"] if naive["mae"] else float("inf")
    if series.kind == "price":
        if ratio < 0.995:
            sentences.append(f"The {name}'s errors are {(1 - ratio) * 100:.1f}% smaller than \"tomorrow = today\" "
                             f"on the test years.")
        elif ratio <= 1.005:
            sentences.append(f"The {name} is no better than \"tomorrow = today\": its mean error is within 0.5% of "
                             f"the naive forecast's. That is what an efficient market predicts; a chart where the "
                             f"forecast hugs the price is the last value shifted by a step.")
        else:
            sentences.append(f"The {name} is worse than \"tomorrow = today\": its mean error is "
                             f"{(ratio - 1) * 100:.1f}% larger than the naive forecast's.")
        direction = rnn.get("direction") or {}
        if direction.get("accuracy") is None and ratio <= 1.005:
            sentences.append("It kept the forecast it starts from, \"no change\": nothing it learnt beat that on "
                             "the validation years by the 3% it must, so it calls no direction either.")
        if direction.get("accuracy") is not None:
            significant = direction["p_value"] is not None and direction["p_value"] < 0.05
            sentences.append(
                f"It calls the next step's direction right {direction['accuracy'] * 100:.1f}% of the time; always "
                f"guessing \"up\" is right {direction['always_up'] * 100:.1f}% of the time "
                f"(binomial test p = {direction['p_value']:.2f}: "
                f"{'better than that, beyond chance' if significant else 'no better than that, within chance'}).")
        return sentences
    best = min(((m, s["mae"]) for m, s in backtest.items()
                if isinstance(s, dict) and "mae" in s and m != "rnn"), key=lambda item: item[1], default=None)
    seasonal = backtest.get("seasonal_naive") or {}
    if "mae" in seasonal and seasonal["mae"]:
        share = rnn["mae"] / seasonal["mae"]
        sentences.append(f"The {name}'s mean error is {share * 100:.0f}% of the seasonal naive forecast's "
                         f"(\"the same as one season ago\").")
    if best is not None:
        method, mae = best
        if rnn["mae"] <= mae:
            sentences.append(f"It beats every baseline here, the best of which is {NAMES.get(method, method)}.")
        else:
            sentences.append(f"{NAMES.get(method, method)} is better: the {name}'s mean error is "
                             f"{(rnn['mae'] / mae - 1) * 100:.0f}% larger.")
    return sentences


def report(series: Series, forecaster, horizon: int, backtest: dict | None = None,
           statsmodels_forecasts: dict | None = None, coverage: float = 0.9) -> dict:
    """The whole answer for one series and horizon (JSON-ready)."""
    shown = min(len(series), max(HISTORY_POINTS if series.kind == "price" else 0, 10 * horizon,
                                 6 * (series.season or 0), 300), HISTORY_POINTS)
    forecasts = {"rnn": forecaster.forecast(series.values, horizon)}
    forecasts.update(rule_forecasts(series, horizon, coverage))
    for method, answer in (statsmodels_forecasts or {}).items():
        forecasts[method] = {key: values[:horizon] for key, values in answer.items()}
    cell = forecaster.model.cfg.cell
    return {
        "series": {"name": series.name, "title": series.title or series.name, "unit": series.unit,
                   "frequency": series.frequency, "season": series.season, "kind": series.kind, "n": len(series),
                   "source": series.source, "notes": series.notes},
        "horizon": horizon, "cell": cell,
        "history": {"index": series.index[-shown:], "values": _rounded(series.values[-shown:])},
        "future_index": future_index(series, horizon),
        "forecasts": forecasts,
        "backtest": backtest or {},
        "verdict": verdict(backtest or {}, series, cell),
    }
