"""HTTP -> Django -> Redis -> real Celery worker -> database -> HTTP."""
import time
import urllib.error
import urllib.request

import pytest

from tests.support.http import http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]




def test_job_created_over_http_is_run_by_a_worker_and_visible_over_http(live_server, celery_worker, wait_until):
    status, job = http("POST", f"{live_server.url}/api/diagnostics", {"message": "hello, unroll"})
    assert status == 202 and job["status"] == "queued"
    assert job["url"].endswith(f"/api/jobs/{job['id']}")

    def finished():
        _, body = http("GET", job["url"])
        return body if body["status"] in ("succeeded", "failed") else None

    done = wait_until(finished, timeout=30, message="the worker to finish the job")
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["echo"] == "hello, unroll"
    assert done["result"]["worker"].startswith("test-")
    assert done["timings"]["run_seconds"] is not None


def test_api_can_wait_for_a_fast_result_without_polling(live_server, celery_worker):
    http("POST", f"{live_server.url}/api/diagnostics", {"message": "warm-up", "wait": 5})
    started = time.perf_counter()
    status, job = http("POST", f"{live_server.url}/api/diagnostics", {"message": "quick", "wait": 5})
    elapsed = time.perf_counter() - started
    assert status == 200 and job["status"] == "succeeded" and job["result"]["echo"] == "quick"
    # Celery's default result polling alone would cost 0.5 s; the pub/sub wake-up does not.
    assert elapsed < 0.45, f"round trip took {elapsed:.3f}s"


@pytest.mark.parametrize(
    "body, message",
    [({"message": 5}, "'message'"), ({"message": "x" * 201}, "'message'"), ({"wait": 60}, "'wait'"),
     (["not", "an", "object"], "JSON object")],
)
def test_diagnostic_api_rejects_bad_input(live_server, body, message):
    status, payload = http("POST", f"{live_server.url}/api/diagnostics", body)
    assert status == 400 and message in payload["error"]


def test_unknown_job_is_404(live_server):
    try:
        urllib.request.urlopen(f"{live_server.url}/api/jobs/00000000-0000-0000-0000-000000000000", timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    else:
        pytest.fail("expected 404")


def test_healthz_reports_database_broker_and_worker(live_server, celery_worker, wait_until):
    def healthy():
        status, body = http("GET", f"{live_server.url}/healthz")
        return body if status == 200 else None

    body = wait_until(healthy, timeout=20, message="/healthz to turn 200")
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["workers"]["count"] >= 1
    assert set(body["broker"]["queues"]) == {"inference", "training"}
    assert "active" in body["models"]
