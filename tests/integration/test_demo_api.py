"""The demo JSON API end to end: HTTP -> job -> real worker -> real (tiny) models -> HTTP."""

import pytest

from tests.support.http import jpeg, post_image, post_json

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]




def test_next_word_api_answers_with_suggestions(live_server, celery_worker, lm_version):
    status, body = post_json(f"{live_server.url}/api/next-word", {"text": "the cat sat on", "k": 4})
    assert status == 200, body
    assert len(body["suggestions"]) == 4
    probs = [s["prob"] for s in body["suggestions"]]
    assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
    assert not {"<unk>", "<eos>"} & {s["word"] for s in body["suggestions"]}
    assert body["model"]["label"] == "Tiny test LSTM" and body["model"]["version"] == lm_version.version


def test_sample_and_inspect_jobs_finish(live_server, celery_worker, lm_version):
    status, body = post_json(f"{live_server.url}/api/next-word/sample",
                             {"text": "the market", "words": 5, "temperature": 0.8, "top_k": 10, "seed": 1})
    assert status == 200 and body["status"] == "succeeded", body
    assert len(body["result"]["continuation"]) == 5
    status, body = post_json(f"{live_server.url}/api/next-word/inspect", {"text": "the cat sat on the mat"})
    assert status == 200 and body["status"] == "succeeded", body
    result = body["result"]
    assert len(result["tokens"]) == len(result["gates"]["forget"])


def test_caption_api_accepts_an_upload_and_the_job_finishes(live_server, celery_worker, caption_version):
    status, body = post_image(f"{live_server.url}/api/captions", jpeg(), fields={"wait": "10"})
    assert status == 200, body
    assert body["status"] == "succeeded", body["error"]
    result = body["result"]
    assert result["caption"] and "<unk>" not in result["caption"]
    assert len(result["attention"]) == len(result["words"])
    assert body["page_url"].endswith(f"/caption/{body['id']}")


def test_caption_api_without_wait_answers_202_with_the_job_url(live_server, celery_worker, caption_version):
    status, body = post_image(f"{live_server.url}/api/captions", jpeg())
    assert status == 202 and body["status"] in ("queued", "running", "succeeded")
    assert body["url"].endswith(f"/api/jobs/{body['id']}")


def test_a_broken_file_that_reaches_the_worker_fails_the_job_and_the_worker_carries_on(
        celery_worker, caption_version, wait_until):
    from django.core.files.base import ContentFile

    from webapp.jobs import services
    from webapp.jobs.models import Job

    broken = services.create_job(Job.Kind.CAPTION, {"beam": 3}, input_file=ContentFile(b"\x00garbage", name="x.jpg"),
                                 model_version=caption_version)
    done = wait_until(lambda: (j := Job.objects.get(pk=broken.pk)).is_finished and j, timeout=60,
                      message="the broken job to end")
    assert done.status == Job.Status.FAILED and "Could not caption this image" in done.error

    good = services.create_job(Job.Kind.CAPTION, {"beam": 1}, input_file=ContentFile(jpeg(), name="ok.jpg"),
                               model_version=caption_version)
    done = wait_until(lambda: (j := Job.objects.get(pk=good.pk)).is_finished and j, timeout=60,
                      message="the next job to end")
    assert done.status == Job.Status.SUCCEEDED, done.error
    assert celery_worker.proc.poll() is None
