import os
import platform
import time

from celery import shared_task
from django.db import DatabaseError

from .kinds import task_name
from .models import Job
from .runner import run_job, worker_name

TASK_OPTIONS = dict(bind=True, acks_late=True, reject_on_worker_lost=True,
                    autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)


HANDLERS = {}  # kind -> handler(job, ctx): what a batch falls back to for a job on its own


def job_task(kind, handler):
    """Register the Celery task that runs jobs of `kind`: claim the job, run `handler(job, ctx)`, store the
    outcome (webapp/jobs/runner.py). Its name and queue come from webapp/jobs/kinds.py."""
    HANDLERS[kind] = handler

    def run(self, job_id):
        return run_job(job_id, handler, worker_name(self))

    run.__name__ = run.__qualname__ = f"run_{kind}"
    return shared_task(name=task_name(kind), **TASK_OPTIONS)(run)


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


run_diagnostic = job_task(Job.Kind.DIAGNOSTIC, diagnostic)
