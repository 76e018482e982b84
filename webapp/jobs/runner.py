"""Worker side of a job: claim, heartbeat, run the handler, store the outcome. Every task goes through run_job()."""
import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from . import services
from .models import Job

logger = logging.getLogger(__name__)


class HeartbeatMonitor:
    """One thread per worker process touches heartbeat_at of the jobs it runs and notices cancel requests."""

    def __init__(self, interval):
        self.interval = interval
        self._running = {}  # job id -> attempt
        self._cancelled = set()
        self._lock = threading.Lock()
        self._thread = None
        self._pid = None

    def track(self, job):
        with self._lock:
            self._running[job.pk] = job.attempts
            if self._thread is None or self._pid != os.getpid():
                # After a fork the parent's thread does not exist in the child: start our own.
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, name="job-heartbeat", daemon=True)
                self._thread.start()

    def untrack(self, job):
        with self._lock:
            self._running.pop(job.pk, None)
            self._cancelled.discard(job.pk)

    def is_cancelled(self, job_id):
        with self._lock:
            return job_id in self._cancelled

    def _beat(self):
        with self._lock:
            running = dict(self._running)
        if not running:
            return
        Job.objects.filter(pk__in=running, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        cancelled = set(Job.objects.filter(pk__in=running, cancel_requested=True).values_list("pk", flat=True))
        with self._lock:
            self._cancelled |= cancelled

    def _loop(self):
        while True:
            time.sleep(self.interval)
            try:
                close_old_connections()
                self._beat()
            except Exception:  # the database may be briefly away; the next beat tries again
                logger.exception("heartbeat failed")
                connection.close()


monitor = HeartbeatMonitor(settings.JOB_HEARTBEAT_SECONDS)
# A pool process runs one thing at a time, a Celery task or a batch (webapp/jobs/batching.py): loading a model
# (torch.fx tracing, int8 packing) patches global state and must never overlap inference in another thread.
executing = threading.Lock()


@dataclass
class JobContext:
    """What a handler may use besides the job: cancellation and progress reports."""

    job: Job

    def should_stop(self):
        return monitor.is_cancelled(self.job.pk)

    def check_cancelled(self):
        if self.should_stop():
            raise services.JobCancelled()

    def report(self, **progress):
        self.job.progress = progress  # the completion message carries the last report
        services.report_progress(self.job.pk, progress)


def run_job(job_id, handler, worker_name):
    """Run `handler(job, ctx) -> dict` for the job if this worker can claim it; returns the final status."""
    job = services.claim(job_id, worker_name)
    if job is None:
        logger.info("job %s is not queued any more; skipping this delivery", job_id)
        return "skipped"
    attach_version(job)
    monitor.track(job)
    try:
        with executing:
            status, result, error = outcome(handler, job)
    finally:
        monitor.untrack(job)
    services.finish(job, status, result=result, error=error)
    return status


def outcome(handler, job):
    """Run `handler(job, ctx) -> dict` for a claimed job: (status, result, error) as finish() stores them."""
    try:
        return Job.Status.SUCCEEDED, handler(job, JobContext(job)), ""
    except Exception as exc:
        return failure(job, exc)


def failure(job, exc):
    """(status, result, error) of a job whose handler raised `exc`: a JobError's message is for the user."""
    if isinstance(exc, services.JobError):
        return Job.Status.FAILED, None, str(exc)
    if isinstance(exc, services.JobCancelled):
        return Job.Status.CANCELLED, None, "Cancelled while running."
    logger.error("job %s crashed", job.pk, exc_info=exc)
    return Job.Status.FAILED, None, (f"Internal error ({type(exc).__name__}) while running this job; details are "
                                     "in the worker log.")


def attach_version(job):
    """Give a claimed job its (cached) ModelVersion row, so handlers need not read it."""
    if job.model_version_id is not None:
        from webapp.registry.loader import cached_version

        version = cached_version(job.model_version_id)
        if version is not None:
            job.model_version = version


def job_model(job):
    """The loaded model of the version `job` names, for its handler; a JobError the user can read when it names
    none or the model cannot be loaded."""
    from webapp.registry.loader import ModelUnavailable, get_model

    if job.model_version_id is None:
        raise services.JobError("This job names no model version.")
    try:
        return get_model(job.model_version)
    except ModelUnavailable as exc:
        raise services.JobError(str(exc)) from None


def worker_name(task):
    return f"{task.request.hostname or 'worker'}/{os.getpid()}"
