import os
import platform
import time

from celery import shared_task
from django.db import DatabaseError

from .runner import run_job, worker_name

TASK_OPTIONS = dict(bind=True, acks_late=True, reject_on_worker_lost=True,
                    autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)


def diagnostic(job, ctx):
    """A round trip through broker, worker and database; holds the worker for `hold_seconds` if asked."""
    hold = float(job.input.get("hold_seconds", 0))
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    return {
        "echo": job.input.get("message", ""),
        "worker": job.worker,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "held_seconds": hold,
    }


@shared_task(name="jobs.diagnostic", **TASK_OPTIONS)
def run_diagnostic(self, job_id):
    return run_job(job_id, diagnostic, worker_name(self))
