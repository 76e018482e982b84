"""Forecast end to end: HTTP -> job -> real worker -> real forecaster -> HTTP, for a shipped model (answered at
once) and for values that train a network as a job, with progress and a permalink."""
import time

import pytest

from tests.support.forecast import seasonal_values
from tests.support.http import get_json, post_json

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait(url, timeout=120):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        status, job = get_json(url)
        assert status == 200, job
        if job["progress"]:
            seen.append(job["progress"])
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job, seen
        time.sleep(0.2)
    raise AssertionError(f"job not finished after {timeout} s: {job}")


def test_a_shipped_model_answers_at_once_with_its_forecast_baselines_and_backtest(
        live_server, celery_worker, forecast_version, tiny_forecaster_dir, client):
    from ml.forecast.data import builtin
    from ml.forecast.forecaster import Forecaster

    status, body = post_json(f"{live_server.url}/api/forecast", {"series": "sunspots", "horizon": 5, "cell": "lstm"})
    assert status == 200, body
    expected = Forecaster.from_dir(tiny_forecaster_dir).forecast(builtin("sunspots").values, 5)
    assert body["forecasts"]["rnn"] == expected
    assert body["future_index"] == ["2009", "2010", "2011", "2012", "2013"]
    assert body["history"]["index"][-1] == "2008" and len(body["history"]["values"]) == 300
    naive = body["forecasts"]["naive"]["median"]
    assert naive == [body["history"]["values"][-1]] * 5
    assert len(body["forecasts"]["seasonal_naive"]["median"]) == 5
    assert body["backtest"]["rnn"]["mae"] > 0 and body["backtest"]["horizon"] == 11
    assert body["verdict"] and body["model"]["slot"] == "sunspots-lstm"
    page = client.get(body["page_url"].replace(live_server.url, ""))
    assert page.status_code == 200 and "Yearly sunspots" in page.content.decode()


def test_values_train_a_network_as_a_job_with_progress_then_beat_naive_on_a_seasonal_series(
        live_server, celery_worker, forecast_version, client):
    values = seasonal_values(360)
    status, body = post_json(f"{live_server.url}/api/forecast", {"values": values, "horizon": 12, "cell": "gru"})
    assert status == 202 and body["status"] in ("queued", "running"), body
    job, progress = wait(body["url"])
    assert job["status"] == "succeeded", job
    assert any(p.get("stage") == "training" for p in progress)
    result = job["result"]
    assert result["cell"] == "gru" and result["model"]["trained"] == "job"
    assert len(result["forecasts"]["rnn"]["median"]) == 12 and result["future_index"][0] == "360"
    backtest = result["backtest"]
    assert {"rnn", "naive", "seasonal_naive", "drift", "arima", "ets"} <= set(backtest)
    assert backtest["rnn"]["mae"] < backtest["naive"]["mae"]      # a season it can learn in seconds
    page = client.get(body["page_url"].replace(live_server.url, ""))
    assert page.status_code == 200 and "forecast-result-data" in page.content.decode()


def test_a_shipped_series_at_a_longer_horizon_than_its_model_trains_instead(live_server, celery_worker,
                                                                          forecast_version):
    status, body = post_json(f"{live_server.url}/api/forecast", {"series": "sunspots", "horizon": 20})
    assert status == 202, body
    job, _ = wait(body["url"])
    assert job["status"] == "succeeded", job
    assert job["result"]["model"]["trained"] == "job" and len(job["result"]["future_index"]) == 20
