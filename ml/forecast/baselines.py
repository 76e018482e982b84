"""The methods a forecaster must beat, made at the same origins as the RNN's forecasts.

Simple ones by rule (there is nothing to import for "repeat the last value"): naive, seasonal naive and drift,
with intervals from their own errors before the test part. Model-based ones from statsmodels: ETS (the
state-space ``ExponentialSmoothing``: additive trend, damped or not by AIC, and an additive season) and ARIMA
(``statsmodels.tsa.arima``, order by AIC, the season as Fourier terms, which is how long seasons such as 52
weeks are usually handled). Each is fitted once on the data before the test part; its parameters then stay
fixed while a Kalman filter runs over the whole series, and the forecasts from each origin start from the state
filtered up to that origin: rolling-origin evaluation without refitting hundreds of times, and without the
future (the filtered state at t has seen the data up to t only).

Every method returns a :class:`Forecasts`: ``median``, ``lower``, ``upper`` arrays of shape (N origins, H).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass
class Forecasts:
    median: np.ndarray                  # (N, H)
    lower: np.ndarray | None = None     # (N, H) or None (no interval)
    upper: np.ndarray | None = None


def naive_point(values, origins, horizon):
    return np.repeat(values[origins][:, None], horizon, axis=1)


def seasonal_point(values, origins, horizon, season):
    if season < 2:
        return naive_point(values, origins, horizon)
    steps = np.arange(1, horizon + 1)
    back = season * np.ceil(steps / season).astype(np.int64)       # the same point of the last cycle seen
    return values[origins[:, None] + steps[None, :] - back[None, :]]


def drift_point(values, origins, horizon):
    slope = (values[origins] - values[0]) / np.maximum(origins, 1)
    return values[origins][:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


RULES = {
    "naive": lambda v, o, h, s: naive_point(v, o, h),
    "seasonal_naive": lambda v, o, h, s: seasonal_point(v, o, h, s),
    "drift": lambda v, o, h, s: drift_point(v, o, h),
}


def rule(name: str, values: np.ndarray, origins: np.ndarray, horizon: int, season: int, fit_end: int,
         coverage: float = 0.9) -> Forecasts:
    """A rule's forecasts, with an interval from the quantiles of its errors at each step ahead over the origins
    of the data before ``fit_end`` (the future is never looked at)."""
    point = RULES[name](values, origins, horizon, season)
    first = max(season, 1)
    past = np.arange(first, fit_end - horizon)
    if len(past) < 10:
        return Forecasts(point)
    steps = np.arange(1, horizon + 1)
    errors = values[past[:, None] + steps[None, :]] - RULES[name](values, past, horizon, season)
    tail = (1 - coverage) / 2
    low, high = np.quantile(errors, [tail, 1 - tail], axis=0)
    return Forecasts(point, point + low[None, :], point + high[None, :])


def fourier(positions: np.ndarray, season: int, terms: int) -> np.ndarray | None:
    """(N, 2K) sine and cosine columns of the season at these positions, or None without a season."""
    if season < 2 or terms < 1:
        return None
    k = np.arange(1, terms + 1)
    angle = 2 * np.pi * positions[:, None] * k[None, :] / season
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


def _differences(values: np.ndarray) -> int:
    """0 when KPSS does not reject level-stationarity at 5 %, else 1."""
    from statsmodels.tsa.stattools import kpss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_value = kpss(values, regression="c", nlags="auto")[1]
    return 0 if p_value > 0.05 else 1


TIME_AXES = {"design": 3, "obs_intercept": 2, "obs_cov": 3, "transition": 3, "state_intercept": 2, "selection": 3,
             "state_cov": 3}      # dimensions of each state-space matrix when it varies with time


def _forecasts_from_states(results, origins: np.ndarray, horizon: int, coverage: float, fitted) -> Forecasts:
    """H-step forecasts from the filtered state at every origin through the model's own state-space matrices:
    what ``results.get_forecast`` does from the end of the data, for all origins at once. ``results`` must be
    filtered over the whole series with the parameters of ``fitted`` (the fit before the test part, whose
    variance scale is used too); the state at t has seen only the data up to t."""
    from scipy.stats import norm
    ssm, filtered = results.model.ssm, results.filter_results
    scale = float(getattr(fitted.filter_results, "scale", 1.0) or 1.0)   # a concentrated-out variance scales all

    def at(name, times):
        """The matrix at each of ``times``, stacked first; statsmodels drops the time axis when it is constant."""
        matrix = np.asarray(ssm[name])
        if matrix.ndim == TIME_AXES[name]:
            return np.moveaxis(matrix[..., times], -1, 0)
        return np.broadcast_to(matrix, (len(times),) + matrix.shape)

    state = filtered.filtered_state[:, origins].T                                   # (N, k)
    cov = np.moveaxis(filtered.filtered_state_cov[:, :, origins], -1, 0) * scale    # (N, k, k)
    z = norm.ppf((1 + coverage) / 2)
    median, lower, upper = (np.empty((len(origins), horizon)) for _ in range(3))
    for h in range(horizon):
        t = origins + h                      # the transition from t to t + 1
        transition, selection = at("transition", t), at("selection", t)
        noise = selection @ (at("state_cov", t) * scale) @ np.swapaxes(selection, 1, 2)
        state = at("state_intercept", t) + np.einsum("nij,nj->ni", transition, state)
        cov = transition @ cov @ np.swapaxes(transition, 1, 2) + noise
        design = at("design", t + 1)                                                # (N, 1, k)
        mean = at("obs_intercept", t + 1)[:, 0] + np.einsum("nij,nj->ni", design, state)[:, 0]
        variance = (design @ cov @ np.swapaxes(design, 1, 2))[:, 0, 0] + at("obs_cov", t + 1)[:, 0, 0] * scale
        spread = z * np.sqrt(np.maximum(variance, 0))
        median[:, h], lower[:, h], upper[:, h] = mean, mean - spread, mean + spread
    return Forecasts(median, lower, upper)


def _lowest_aic(candidates):
    """The fitted model with the lowest AIC among ``candidates`` (callables that fit one), ignoring failures."""
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fit in candidates:
            try:
                result = fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(result.aic) and (best is None or result.aic < best.aic):
                best = result
    if best is None:
        raise ValueError("no candidate model could be fitted")
    return best


ARIMA_ORDERS = ((0, 1), (1, 0), (1, 1), (2, 1), (2, 2))      # (p, q) tried, d chosen by KPSS


def arima(values: np.ndarray, origins: np.ndarray, horizon: int, season: int, fit_end: int,
          coverage: float = 0.9) -> tuple[Forecasts, dict]:
    """ARIMA(p, d, q) errors around a regression on the season's Fourier terms (and, when differenced, time: the
    drift); (p, q) by AIC among ARIMA_ORDERS on the data before ``fit_end``, d by a KPSS test -> (forecasts,
    {"order", "fourier_terms"})."""
    from statsmodels.tsa.arima.model import ARIMA
    terms = min(4, season // 2) if season >= 2 else 0
    d = _differences(values[:fit_end])
    positions = np.arange(len(values) + horizon)
    columns = [fourier(positions, season, terms)] if terms else []
    if d == 1:    # a time column: with d = 1 its coefficient is the drift (kept as exog, extend() carries it right)
        columns.append(positions[:, None] / fit_end)
    exog_all = np.concatenate(columns, axis=1) if columns else None

    def exog(a, b):
        return exog_all[a:b] if exog_all is not None else None

    trend = "n" if d == 1 else "c"
    best = _lowest_aic(lambda p=p, q=q: ARIMA(values[:fit_end], exog=exog(0, fit_end), order=(p, d, q),
                                              trend=trend).fit() for p, q in ARIMA_ORDERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The fitted parameters, filtered over all the data and then H missing steps: the exog (and so the
        # model's matrices) must reach H steps past the last origin, which may be the series' end.
        padded = np.concatenate([values, np.full(horizon, np.nan)])
        whole = best.apply(padded, exog=exog(0, len(padded)))
    return (_forecasts_from_states(whole, origins, horizon, coverage, best),
            {"order": list(best.model.order), "fourier_terms": terms})


def ets(values: np.ndarray, origins: np.ndarray, horizon: int, season: int, fit_end: int,
        coverage: float = 0.9) -> tuple[Forecasts, dict]:
    """Additive exponential smoothing (Holt-Winters) as a state-space model: level, trend (damped or not, by
    AIC) and, when there is one, an additive season of ``season`` steps."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    seasonal = season if season >= 2 else None
    best = _lowest_aic(lambda damped=damped: ExponentialSmoothing(
        values[:fit_end], trend=True, damped_trend=damped, seasonal=seasonal,
        initialization_method="concentrated").fit(disp=False) for damped in (False, True))
    initial = np.asarray(best.initial_state, dtype=float).ravel()   # level, trend, season: fitted before fit_end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = ExponentialSmoothing(values, trend=True, damped_trend=best.model.damped_trend, seasonal=seasonal,
                                     initialization_method="known", initial_level=initial[0],
                                     initial_trend=initial[1], initial_seasonal=initial[2:] if seasonal else None
                                     ).smooth(best.params)
    return (_forecasts_from_states(whole, origins, horizon, coverage, best),
            {"damped_trend": bool(best.model.damped_trend), "season": seasonal or 0})
