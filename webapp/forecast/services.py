"""Forecast requests. A shipped model of the series, cell and a long enough horizon answers at once (a job on the
inference queue, waited for briefly); anything else, an uploaded series included, trains a network as a job on
the training queue within FORECAST_TRAIN_SECONDS, judged on the same rolling-origin backtest as the shipped ones.
"""
import functools
import json
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile

from ml.forecast.data import BUILTIN
from webapp.jobs import services as jobs
from webapp.jobs.kinds import TRAINING_QUEUE
from webapp.jobs.models import Job
from webapp.registry.loader import ModelUnavailable, get_model
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_versions, resolve_path, version_json

WAIT_SECONDS = 5
# The statsmodels baselines refit on every request that trains; past this many points they would outlast the
# job's minute, so such a series is compared with the rules (naive, seasonal naive, drift) only.
STATSMODELS_MAX_POINTS = 3000


def shipped_version(series, cell, horizon):
    """The active shipped forecaster of ``series`` with ``cell`` that forecasts at least ``horizon`` steps."""
    for version in active_versions(ModelVersion.Kind.FORECASTER):
        model = (version.config or {}).get("model") or {}
        name = ((version.config or {}).get("series") or {}).get("name")
        if name == series and model.get("cell") == cell and model.get("horizon", 0) >= horizon:
            return version
    return None


def request(params, *, upload=None, owner=None, session_key="", wait=WAIT_SECONDS):
    """Queue a forecast: ``params`` {"series" or nothing, "horizon", "cell", "column"}; ``upload`` the series
    as a CSV file (an upload, or the API's values written as one). Waits briefly when a shipped model answers."""
    version = None
    if upload is None:
        version = shipped_version(params["series"], params["cell"], params["horizon"])
        if version is None and params["series"] not in BUILTIN:
            raise jobs.JobError(f"Horizon: the models of '{params['series']}' do not forecast {params['horizon']} "
                                f"steps with a {params['cell'].upper()} cell; see the page for what they do.")
    params = {**params, "mode": "shipped" if version else "train"}
    job = jobs.create_job(Job.Kind.FORECAST, params, input_file=upload, owner=owner, session_key=session_key,
                          model_version=version, queue=None if version else TRAINING_QUEUE)
    return jobs.wait_for_job(job, wait) if wait and version else job


def values_file(values):
    """The API's list of numbers as the CSV file a training job reads (positions as the index)."""
    lines = ["step,value"] + [f"{i},{v!r}" for i, v in enumerate(values)]
    return ContentFile("\n".join(lines).encode(), name="values.csv")


@functools.lru_cache(maxsize=8)
def builtin_series(name):
    """A bundled series, read once per worker process (they never change)."""
    from ml.forecast.data import builtin

    return builtin(name)


@functools.lru_cache(maxsize=16)
def _model_series(directory):
    from ml.forecast.data import model_series

    return model_series(directory, json.loads((Path(directory) / "config.json").read_text()))


def version_series(version):
    """The series a forecaster version forecasts: a bundled one, or the CSV it was trained on (kept with it);
    read once per worker process."""
    return _model_series(str(resolve_path(version)))


def forecast(job, ctx):
    """Worker: a shipped model's forecast from the end of its series, or train-judge-forecast for any other."""
    from ml.forecast.data import SeriesError

    try:
        if job.input.get("mode") == "shipped":
            return forecast_shipped(job)
        return train_and_forecast(job, ctx)
    except (SeriesError, ModelUnavailable) as exc:
        raise jobs.JobError(str(exc)) from None


def forecast_shipped(job):
    if job.model_version is None:
        raise jobs.JobError("This job names no model version.")
    return answer_shipped(job.model_version, get_model(job.model_version), job.input["horizon"])


def answer_shipped(version, forecaster, horizon):
    """A shipped (or admin-trained) model's answer: its forecast from the end of its own series, the rules'
    forecasts, and the backtest and statsmodels forecasts it stored when it was recorded."""
    from ml.forecast.report import report

    metrics = version_json(version, "metrics.json")
    answer = report(version_series(version), forecaster, horizon, backtest=metrics.get("backtest"),
                    statsmodels_forecasts=metrics.get("end_forecasts"))
    answer["model"] = {"slot": version.slot, "label": version.label, "version": version.version,
                       "trained": version.source, "trained_seconds": metrics.get("elapsed_s")}
    return answer


def train_and_forecast(job, ctx):
    """Train on the first 80 % (its last 15 % choosing the epoch), backtest on the last 20 %, forecast the end."""
    from ml.forecast.data import read_csv
    from ml.forecast.evaluate import ETS_MAX_SEASON, evaluate_series, quick_methods
    from ml.forecast.forecaster import Forecaster
    from ml.forecast.report import report
    from ml.forecast.train import ForecastConfig

    run_dir = Path(settings.VAR_DIR) / "forecast-jobs" / f"{job.pk}-{job.attempts}"
    budget = settings.FORECAST_TRAIN_SECONDS
    params = job.input
    if job.input_file:
        run_dir.mkdir(parents=True, exist_ok=True)
        csv_path = run_dir / "series.csv"
        with job.input_file.open("rb") as f:
            data = f.read()
        csv_path.write_bytes(data)
        series = read_csv(data, column=params.get("column", ""), name=params.get("name", "upload"))
        # The page's title: the file's name and its column ("sales (units)"), or the API's plain list of values.
        series.title = "Your values" if params.get("name") == "values" else f"{series.name} ({series.title})"
        source = {"csv": str(csv_path), "column": params.get("column", "")}
    else:
        series = builtin_series(params["series"])
        source = {"series": params["series"]}
    methods, notes = quick_methods(series.season), []
    if len(series) > STATSMODELS_MAX_POINTS:
        methods = ("naive", "seasonal_naive", "drift")
        notes.append(f"ETS and ARIMA are left out: with {len(series):,} points they take longer to fit than this "
                     f"job has.")
    elif series.season > ETS_MAX_SEASON:
        notes.append(f"ETS is left out: with a season of {series.season} steps it takes minutes to fit.")
    cfg = ForecastConfig(**source, horizon=params["horizon"], cell=params["cell"], time_budget_min=budget / 60,
                         threads=1, run_dir=str(run_dir / "run"))

    def on_progress(event):
        if event.get("event") == "epoch":
            ctx.report(stage="training", epoch=event["epoch"], val_mae=event.get("val_mae"), best=event.get("best"),
                       elapsed_s=event.get("elapsed_s"), budget_s=budget,
                       fraction=min(0.9, 0.9 * (event.get("elapsed_s") or 0) / budget))

    try:
        ctx.report(stage="training", epoch=0, elapsed_s=0, budget_s=budget, fraction=0)
        backtest = evaluate_series(cfg, on_progress=on_progress, methods=methods, should_stop=ctx.should_stop,
                                   before_baselines=lambda: ctx.report(stage="backtest", budget_s=budget,
                                                                       fraction=0.9))
        if backtest.get("status") == "cancelled":
            raise jobs.JobCancelled()
        forecaster = Forecaster.from_dir(backtest["rnn_training"]["best_dir"])
        answer = report(series, forecaster, params["horizon"], backtest={k: v for k, v in backtest.items()
                                                                          if k != "rnn_training"})
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    training = backtest["rnn_training"]
    answer["model"] = {"label": f"{series.title or series.name} · {params['cell'].upper()}", "trained": "job",
                       "trained_seconds": training.get("elapsed_s"), "epochs": training.get("epoch"),
                       "best_epoch": training.get("best_epoch")}
    answer["notes"] = notes
    return answer
