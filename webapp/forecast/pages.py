"""What the forecast page shows before any request: the bundled series and, for those with a shipped model, its
stored backtest (read from the registry and the model's metrics.json: the web process never imports torch)."""
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_versions, version_json


METHOD_NAMES = {"rnn": "RNN", "naive": "Naive (last value)", "seasonal_naive": "Seasonal naive",
                "drift": "Drift", "ets": "ETS (statsmodels)", "arima": "ARIMA (statsmodels)"}


def trained_series(shipped=None):
    """Names of the series that active forecasters trained in the admin on an uploaded CSV forecast
    (``shipped``: shipped_models(), when the caller has it already)."""
    from ml.forecast.data import BUILTIN

    return sorted(name for name in (shipped if shipped is not None else shipped_models()) if name not in BUILTIN)


def shipped_models():
    """{series name: [{"slot", "label", "version", "cell", "horizon"}]} of the active forecasters."""
    by_series = {}
    for version in active_versions(ModelVersion.Kind.FORECASTER):
        config = version_json(version, "config.json")
        model = config.get("model") or {}
        name = (config.get("series") or {}).get("name")
        by_series.setdefault(name, []).append({"slot": version.slot, "label": version.label,
                                               "version": version.version, "cell": model.get("cell"),
                                               "horizon": model.get("horizon")})
    return by_series


def series_rows():
    """The page's series picker: every bundled series, with its shipped models (which answer at once)."""
    from .forms import SERIES

    shipped = shipped_models()
    listed = SERIES + [(name, f"{name} (trained in the admin)", "an uploaded series")
                       for name in trained_series(shipped)]
    return [{"name": name, "title": title, "blurb": blurb, "models": shipped.get(name, []),
             "default_horizon": min((m["horizon"] for m in shipped.get(name, [])), default=12)}
            for name, title, blurb in listed]
