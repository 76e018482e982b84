"""Gradient lab API end to end: HTTP -> job -> real worker -> ml.lab -> stored result -> permalink page."""
import dataclasses
import json
import urllib.error
import urllib.request

import pytest

from tests.support.http import get_json, post_json
from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.lab import forms, services

pytestmark = [pytest.mark.usefixtures("no_rate_limits"), pytest.mark.integration,
              pytest.mark.django_db(transaction=True)]

# Small enough to finish in about a second on the shared 2-core box.
SMALL = {"cells": ["rnn_tanh", "lstm"], "distance": 8, "steps": 30, "hidden": 16, "sweep": False}


def test_an_experiment_runs_on_the_worker_and_its_permalink_shows_it(live_server, celery_worker, wait_until):
    status, body = post_json(f"{live_server.url}/api/lab/experiments", SMALL)
    assert status == 202, body
    assert body["kind"] == "lab" and body["status"] in ("queued", "running", "succeeded")
    assert body["page_url"].endswith(f"/lab/{body['id']}") and 0 < body["estimated_seconds"] < 5

    job = wait_until(lambda: (lambda j: j if j["status"] in ("succeeded", "failed") else None)(get_json(body["url"])[1]),
                     timeout=60, interval=0.2, message="the lab job to finish")
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert [r["cell"] for r in result["runs"]] == ["rnn_tanh", "lstm"]
    for run in result["runs"]:
        assert len(run["loss"]) == len(run["grad_norm"]) == 30
        assert len(run["grad_by_distance"]) == len(run["grad_by_distance_init"]) == result["task"]["length"]
        assert run["acc_steps"][-1] == 30 and 0 <= run["final_accuracy"] <= 1
    assert result["sweep"]["distances"] == [8]
    assert job["progress"]["fraction"] == 1.0
    assert result["seconds"] < 20

    with urllib.request.urlopen(body["page_url"], timeout=30) as response:
        html = response.read().decode()
    assert 'id="lab-settings"' in html and body["id"] in html


@pytest.mark.parametrize("body, field, message", [
    ({"cells": ["lstm", "transformer"]}, "cells", "Unknown cell 'transformer'"),
    ({"cells": "lstm"}, "cells", "must be a list"),
    ({"cells": []}, "cells", "at least one cell"),
    ({"distance": 1}, "distance", "from 2 to 200"),
    ({"distance": "far"}, "distance", "whole number"),
    ({"steps": 5000}, "steps", "from 10 to 400"),
    ({"hidden": 1000}, "hidden", "one of 16, 32, 64, 128"),
    ({"init": "zeros"}, "init", "'xavier' or 'naive'"),
    ({"clip": "maybe"}, "clip", "true or false"),
    ({"tbptt": 80, "distance": 50}, "tbptt", "shorter than the distance"),
    ({"preset": "nope"}, "preset", "Unknown preset"),
    ({"cells": ["rnn_tanh", "rnn_relu", "lstm", "gru"], "distance": 200, "steps": 400}, None, "more than the 20 s"),
])
def test_bad_settings_are_refused_with_the_field_and_a_plain_message(client, body, field, message):
    response = client.post("/api/lab/experiments", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    data = response.json()
    assert message in data["error"] and data.get("field") == field
    assert not Job.objects.filter(kind=Job.Kind.LAB).exists()


def test_a_body_that_is_not_json_or_not_post_is_refused(client):
    assert client.post("/api/lab/experiments", "{oops", content_type="application/json").status_code == 400
    assert client.post("/api/lab/experiments", "[1]", content_type="application/json").status_code == 400
    assert client.get("/api/lab/experiments").status_code == 405


def test_one_pending_experiment_per_visitor_and_a_few_overall():
    # Invalid configs: if a worker ever picked these rows up they would fail at once, not burn CPU.
    broken = {"config": {"cells": ["nope"]}}
    Job.objects.create(kind=Job.Kind.LAB, input=broken, session_key="visitor-a")
    with pytest.raises(services.LabBusy, match="still running"):
        services.request_experiment(SMALL, session_key="visitor-a")
    for i in range(services.MAX_PENDING_OVERALL - 1):
        Job.objects.create(kind=Job.Kind.LAB, input=broken, session_key=f"other-{i}")
    with pytest.raises(services.LabBusy, match="busy"):
        services.request_experiment(SMALL, session_key="visitor-b")


def test_the_api_answers_429_while_the_visitors_experiment_is_pending(client):
    client.get("/lab/")  # the page gives the visitor a session
    Job.objects.create(kind=Job.Kind.LAB, input={"config": {"cells": ["nope"]}}, session_key=client.session.session_key)
    response = client.post("/api/lab/experiments", json.dumps(SMALL), content_type="application/json")
    assert response.status_code == 429 and "still running" in response.json()["error"]


def test_the_lab_api_has_its_own_per_client_rate_limit(client, settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "lab": "2/m"}
    for _ in range(2):
        assert client.post("/api/lab/experiments", {"distance": 1}, content_type="application/json").status_code == 400
    response = client.post("/api/lab/experiments", {"distance": 1}, content_type="application/json")
    assert response.status_code == 429 and "Too many requests" in response.json()["error"]


def test_the_worker_handler_turns_a_bad_stored_config_into_a_user_error():
    job = Job(kind=Job.Kind.LAB, input={"config": {"cells": ["lstm"], "distance": 5000}})
    with pytest.raises(jobs.JobError, match="distance must be a whole number from 2 to 200"):
        services.experiment(job, ctx=None)


def test_page_and_permalinks(client):
    page = client.get("/lab/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Gradient lab" in html and "vendor/plotly.min.js" in html and 'id="lab-settings"' in html
    other = Job.objects.create(kind=Job.Kind.DIAGNOSTIC, status=Job.Status.SUCCEEDED)
    assert client.get(f"/lab/{other.pk}").status_code == 404
    assert client.get("/lab/8f14e45f-ceea-467f-a8f5-7c1b4d5f2e11").status_code == 404


def test_the_web_form_mirrors_the_ml_limits_presets_and_time_budget():
    """The form validates with ml/lab/budget.py; its defaults and choices must match ExperimentConfig's."""
    from ml.lab import experiment as ml

    assert forms.PRESETS == ml.PRESETS
    assert forms.LIMITS == ml.LIMITS and forms.CELL_COST == ml.CELL_COST and forms.LEAD == ml.LEAD
    assert forms.SECONDS_PER_WORK == ml.SECONDS_PER_WORK and forms.MAX_SECONDS == ml.MAX_SECONDS
    assert forms.DEFAULT_LR == ml.DEFAULT_LR and [c for c, _ in forms.CELLS] == list(ml.CELLS)
    defaults = {f.name: f.default for f in dataclasses.fields(ml.ExperimentConfig) if f.name in forms.DEFAULTS}
    assert {k: (list(v) if isinstance(v, tuple) else v) for k, v in defaults.items()} == forms.DEFAULTS
    grid = [{}, *[p["config"] for p in ml.PRESETS.values()],
            {"cells": ["gru"], "hidden": 128, "distance": 12, "steps": 100, "tbptt": 3, "clip": True},
            {"cells": ["rnn_relu", "lstm"], "distance": 3, "steps": 10, "sweep": False}]
    for changes in grid:
        form = forms.ExperimentForm(changes)
        assert form.is_valid(), form.errors
        cfg = ml.ExperimentConfig.from_dict(form.config)
        assert form.estimated_seconds == round(cfg.estimated_seconds(), 1)
