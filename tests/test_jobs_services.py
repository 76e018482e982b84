"""The job state machine against the real database and Redis (no worker needed)."""
from datetime import timedelta

import uuid

import pytest
from django.utils import timezone

from webapp.jobs import broker, services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def make_job(kind=Job.Kind.DIAGNOSTIC, **fields):
    return Job.objects.create(kind=kind, queue=private_queue(), **fields)


def private_queue():
    """A queue no worker listens to, so its length shows exactly what this test sent."""
    return f"unit-{uuid.uuid4().hex[:8]}"


def test_create_job_sends_its_id_to_the_queue():
    queue = private_queue()
    job = services.create_job(Job.Kind.SAMPLE, {"text": "hi"}, queue=queue)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert job.enqueued_at is not None
    assert broker.client().llen(queue) == 1      # a Celery message


def test_a_batched_kind_puts_its_id_on_its_queue_and_kinds_list():
    queue = private_queue()
    job = services.create_job(Job.Kind.DIAGNOSTIC, {"message": "hi"}, queue=queue)
    assert broker.client().lrange(broker.batch_key(queue, Job.Kind.DIAGNOSTIC), 0, -1) == [str(job.pk).encode()]
    assert broker.client().llen(queue) == 0


def test_a_request_whose_answer_is_cached_is_stored_as_succeeded_and_never_queued():
    from webapp.jobs import result_cache
    from webapp.nextword import services as nextword  # noqa: F401  registers the kind's cache key
    from webapp.registry.models import ModelVersion

    version = ModelVersion.objects.create(kind=ModelVersion.Kind.LANGUAGE_MODEL, slot="cache-test", version=1,
                                          label="cache test", path="nowhere")
    queue = private_queue()
    first = services.create_job(Job.Kind.NEXT_WORD, {"text": "the cat", "k": 3}, model_version=version, queue=queue)
    assert first.status == Job.Status.QUEUED       # nothing known yet: it goes to a worker
    result_cache.store({result_cache.redis_key(first): {"suggestions": [{"word": "sat", "p": 0.5}]}})

    again = services.create_job(Job.Kind.NEXT_WORD, {"text": "the cat", "k": 3}, model_version=version, queue=queue)
    other = services.create_job(Job.Kind.NEXT_WORD, {"text": "the cat", "k": 4}, model_version=version, queue=queue)
    again.refresh_from_db()
    assert again.status == Job.Status.SUCCEEDED and again.attempts == 0
    assert again.result == {"suggestions": [{"word": "sat", "p": 0.5}], "from_cache": True}
    assert again.timings()["total_seconds"] == 0 and again.enqueued_at is None
    assert other.status == Job.Status.QUEUED         # another k is another answer
    queued = broker.client().lrange(broker.batch_key(queue, Job.Kind.NEXT_WORD), 0, -1)
    assert queued == [str(first.pk).encode(), str(other.pk).encode()]


def test_a_request_the_cache_cannot_name_is_queued_for_its_handler_to_judge():
    from webapp.captions import services as captions  # noqa: F401  registers the kind's cache key
    from webapp.jobs import result_cache
    from webapp.registry.models import ModelVersion

    version = ModelVersion.objects.create(kind=ModelVersion.Kind.CAPTIONER, slot="no-photo", version=1,
                                          label="no photo", path="nowhere")
    job = services.create_job(Job.Kind.CAPTION, {"beam": 3}, model_version=version, queue=private_queue())
    assert job.status == Job.Status.QUEUED and result_cache.redis_key(job) is None   # no photo to name
    assert result_cache.lookup([None, "unroll:result:caption:unknown"]) == [None, None]


def test_with_the_cache_off_every_request_is_queued(settings):
    from webapp.jobs import result_cache
    from webapp.nextword import services as nextword  # noqa: F401
    from webapp.registry.models import ModelVersion

    settings.JOB_RESULT_CACHE_SECONDS = 0
    version = ModelVersion.objects.create(kind=ModelVersion.Kind.LANGUAGE_MODEL, slot="cache-off", version=1,
                                          label="cache off", path="nowhere")
    job = Job(kind=Job.Kind.NEXT_WORD, input={"text": "a", "k": 5}, model_version=version)
    settings.JOB_RESULT_CACHE_SECONDS = 600
    result_cache.store({result_cache.redis_key(job): {"suggestions": []}})
    settings.JOB_RESULT_CACHE_SECONDS = 0
    again = services.create_job(Job.Kind.NEXT_WORD, {"text": "a", "k": 5}, model_version=version,
                                queue=private_queue())
    assert again.status == Job.Status.QUEUED


def test_a_batch_claims_only_queued_jobs_and_stores_each_outcome_once():
    jobs = [make_job() for _ in range(4)]
    services.cancel(jobs[1])
    taken = services.claim(jobs[2].pk, "other-worker")
    claimed = services.claim_batch([j.pk for j in jobs], "w1")
    assert sorted(j.pk for j in claimed) == sorted([jobs[0].pk, jobs[3].pk])
    assert all(j.status == Job.Status.RUNNING and j.worker == "w1" and j.attempts == 1 for j in claimed)

    # The sweeper requeued one of them meanwhile: its outcome from this worker must not land.
    Job.objects.filter(pk=jobs[3].pk).update(status=Job.Status.QUEUED, worker="")
    outcomes = {jobs[0].pk: (Job.Status.SUCCEEDED, {"words": ["a"]}, ""), jobs[3].pk: (Job.Status.FAILED, None, "x")}
    stored = services.finish_batch(claimed, [outcomes[j.pk] for j in claimed])
    assert stored == {jobs[0].pk}
    first, requeued = Job.objects.get(pk=jobs[0].pk), Job.objects.get(pk=jobs[3].pk)
    assert first.status == Job.Status.SUCCEEDED and first.result == {"words": ["a"]}
    assert first.batch_size == 2 and first.finished_at is not None
    assert requeued.status == Job.Status.QUEUED and requeued.result is None
    assert Job.objects.get(pk=jobs[1].pk).status == Job.Status.CANCELLED
    assert taken.worker == "other-worker" and Job.objects.get(pk=jobs[2].pk).worker == "other-worker"


def test_a_batch_of_only_failures_stores_null_results():
    jobs = [make_job() for _ in range(2)]
    claimed = services.claim_batch([j.pk for j in jobs], "w1")
    assert services.finish_batch(claimed, [(Job.Status.FAILED, None, "no")] * 2) == {j.pk for j in jobs}
    assert all(j.status == Job.Status.FAILED and j.result is None and j.error == "no"
               for j in Job.objects.filter(pk__in=[j.pk for j in jobs]))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown job kind"):
        services.create_job("teleport", {})


def test_only_one_worker_can_claim_a_job():
    job = make_job()
    first = services.claim(job.pk, "w1")
    second = services.claim(job.pk, "w2")
    assert first is not None and first.worker == "w1" and first.attempts == 1
    assert second is None


def test_finish_ignores_a_worker_that_lost_the_job():
    job = make_job()
    stale = services.claim(job.pk, "w1")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, worker="")  # the sweeper requeued it
    fresh = services.claim(job.pk, "w2")
    assert services.finish(stale, Job.Status.SUCCEEDED, result={"from": "w1"}) is False
    assert services.finish(fresh, Job.Status.SUCCEEDED, result={"from": "w2"}) is True
    job.refresh_from_db()
    assert job.result == {"from": "w2"} and job.attempts == 2


def test_cancel_a_queued_job_ends_it_at_once():
    job = services.cancel(make_job())
    assert job.status == Job.Status.CANCELLED and job.finished_at is not None


def test_cancel_a_running_job_asks_it_to_stop():
    job = make_job()
    services.claim(job.pk, "w1")
    job = services.cancel(job)
    assert job.status == Job.Status.RUNNING and job.cancel_requested


def test_stale_running_job_is_requeued_then_failed_with_a_reason(settings):
    job = make_job()
    services.claim(job.pk, "dead-worker")
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 5)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)

    # A live worker's sweeper may win the race against this call; either way the row must change.
    services.recover_stale_jobs()
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and "stopped responding" in job.error

    for _ in range(settings.JOB_MAX_ATTEMPTS - 1):
        services.claim(job.pk, "dead-worker")
        Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
        services.recover_stale_jobs()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "killed or crashed" in job.error and job.finished_at is not None


def test_fresh_running_job_is_left_alone():
    job = make_job()
    services.claim(job.pk, "alive")
    services.recover_stale_jobs()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_queued_job_whose_message_was_lost_is_sent_again(settings):
    job = make_job(enqueued_at=timezone.now() - timedelta(seconds=settings.JOB_RESEND_QUEUED_SECONDS + 1))
    services.recover_stale_jobs()
    assert str(job.pk).encode() in broker.client().lrange(broker.batch_key(job.queue, job.kind), 0, -1)
    job.refresh_from_db()
    assert job.enqueued_at > timezone.now() - timedelta(seconds=5)


@pytest.mark.parametrize("kind", [Job.Kind.SAMPLE, Job.Kind.DIAGNOSTIC])  # a Celery message; a batch list
def test_enqueue_with_broker_down_keeps_the_job_queued(settings, kind):
    from webapp.celery import app

    def use_broker(url):
        app.conf.broker_url = settings.REDIS_URL = url
        app._pool = None  # connection and producer pools are built lazily from broker_url
        app.amqp._producer_pool = None

    job = make_job(kind=kind)
    good = app.conf.broker_url
    use_broker("redis://127.0.0.1:1/0")
    try:
        assert services.enqueue(job) is False
    finally:
        use_broker(good)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.enqueued_at is None


def test_wait_for_job_returns_when_finished():
    job = make_job(status=Job.Status.SUCCEEDED, result={"ok": True})
    assert services.wait_for_job(job.pk, 1).result == {"ok": True}


def test_wait_for_job_times_out_on_a_queued_job():
    job = make_job()
    import time

    start = time.monotonic()
    assert services.wait_for_job(job.pk, 0.3).status == Job.Status.QUEUED
    assert 0.25 < time.monotonic() - start < 2


def test_old_finished_suggestions_are_pruned_but_captions_and_recent_jobs_stay(settings):
    old = timezone.now() - timedelta(days=settings.JOB_EPHEMERAL_DAYS + 1)
    stale = make_job(status=Job.Status.SUCCEEDED)
    Job.objects.filter(pk=stale.pk).update(kind=Job.Kind.NEXT_WORD, queued_at=old)
    caption = make_job(status=Job.Status.SUCCEEDED)
    Job.objects.filter(pk=caption.pk).update(kind=Job.Kind.CAPTION, queued_at=old)
    recent = make_job(status=Job.Status.SUCCEEDED)
    Job.objects.filter(pk=recent.pk).update(kind=Job.Kind.NEXT_WORD)
    assert services.prune_ephemeral_jobs() == 1
    assert set(Job.objects.values_list("pk", flat=True)) == {caption.pk, recent.pk}


def test_claim_stores_and_returns_the_running_row():
    job = make_job()
    claimed = services.claim(job.pk, "w1")
    job.refresh_from_db()
    assert (claimed.status, claimed.worker, claimed.attempts) == (Job.Status.RUNNING, "w1", 1)
    assert claimed.started_at == job.started_at == job.heartbeat_at  # same instant, read back as written
    assert abs((timezone.now() - job.started_at).total_seconds()) < 5
    assert Job.objects.filter(pk=job.pk, started_at__lte=timezone.now()).exists()  # comparable as a datetime


def _finish_soon(job_id, delay=0.2):
    import threading
    import time

    from django.db import connection

    def run():
        time.sleep(delay)
        claimed = services.claim(job_id, "w1")
        services.finish(claimed, Job.Status.SUCCEEDED, result={"words": ["up"]})
        connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_waiting_request_gets_the_outcome_from_the_completion_message_without_reading_the_row():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from webapp.jobs import completions

    listener = completions.listener()
    listener.ensure_running()
    for _ in range(100):  # the listener subscribes in its own thread
        if listener.live_since() is not None:
            break
        import time

        time.sleep(0.02)
    job = services.create_job(Job.Kind.DIAGNOSTIC, {"message": "hi"}, queue=private_queue())
    thread = _finish_soon(job.pk)
    with CaptureQueriesContext(connection) as queries:
        waited = services.wait_for_job(job, 5)
    thread.join()
    assert waited.status == Job.Status.SUCCEEDED and waited.result == {"words": ["up"]}
    assert len(queries) == 0, [q["sql"] for q in queries]
    stored = Job.objects.get(pk=job.pk)
    for field in ("status", "result", "error", "attempts", "worker", "started_at", "finished_at"):
        assert getattr(waited, field) == getattr(stored, field), field


def test_waiting_on_a_job_created_elsewhere_reads_the_row_and_still_wakes_on_the_message():
    job = make_job()
    thread = _finish_soon(job.pk)
    waited = services.wait_for_job(job.pk, 5)
    thread.join()
    assert waited.status == Job.Status.SUCCEEDED and waited.result == {"words": ["up"]}


def test_a_cancel_message_without_an_outcome_makes_the_waiter_read_the_row():
    import threading
    import time

    job = services.create_job(Job.Kind.DIAGNOSTIC, {}, queue=private_queue())
    threading.Timer(0.2, lambda: services.cancel(Job.objects.get(pk=job.pk))).start()
    start = time.monotonic()
    waited = services.wait_for_job(job, 5)
    assert waited.status == Job.Status.CANCELLED and time.monotonic() - start < 1.5


def test_every_job_kind_is_routed_once_to_a_registered_task_and_a_known_queue():
    from webapp.celery import app
    from webapp.jobs import kinds

    app.loader.import_default_modules()
    for kind in Job.Kind:
        assert kinds.task_name(kind) in app.tasks, kind
        assert kinds.QUEUES[kind] in ("inference", "training")
    assert kinds.QUEUES[Job.Kind.TRAIN] == "training"
