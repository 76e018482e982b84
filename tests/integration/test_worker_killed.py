"""SIGKILL the worker mid-job: the job must end succeeded or failed with a reason, never stuck in running."""
import signal
import uuid

import pytest

from webapp.jobs import services
from webapp.jobs.models import Job

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_job_of_a_killed_worker_is_finished_by_the_next_worker(start_worker, wait_until):
    queue = f"kill-test-{uuid.uuid4().hex[:8]}"  # only this test's workers listen here
    doomed = start_worker(queues=queue)
    job = services.create_job(Job.Kind.DIAGNOSTIC, {"message": "survive", "hold_seconds": 3}, queue=queue)

    wait_until(lambda: Job.objects.get(pk=job.pk).status == Job.Status.RUNNING, timeout=30,
               message="the first worker to start the job")
    doomed.kill(signal.SIGKILL)
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING  # nobody has noticed yet

    start_worker(queues=queue)
    done = wait_until(lambda: (j := Job.objects.get(pk=job.pk)).is_finished and j, timeout=60,
                      message="the job to finish after the kill")
    assert done.status == Job.Status.SUCCEEDED, done.error
    assert done.attempts == 2
    assert done.result["echo"] == "survive"


def test_job_that_kills_every_worker_fails_with_a_reason(start_worker, wait_until, settings):
    queue = f"kill-test-{uuid.uuid4().hex[:8]}"
    job = services.create_job(Job.Kind.DIAGNOSTIC, {"message": "doomed", "hold_seconds": 30}, queue=queue)
    for attempt in range(1, settings.JOB_MAX_ATTEMPTS + 1):
        worker = start_worker(queues=queue)
        wait_until(lambda: (j := Job.objects.get(pk=job.pk)).status == Job.Status.RUNNING and j.attempts == attempt,
                   timeout=40, message=f"attempt {attempt} to start")
        worker.kill(signal.SIGKILL)

    # Any live worker's sweeper notices; start one on another queue so this job is not picked up again.
    start_worker(queues=f"idle-{uuid.uuid4().hex[:6]}")
    done = wait_until(lambda: (j := Job.objects.get(pk=job.pk)).is_finished and j, timeout=40,
                      message="the sweeper to give up on the job")
    assert done.status == Job.Status.FAILED
    assert "stopped responding" in done.error and "killed or crashed" in done.error
