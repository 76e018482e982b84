from celery import shared_task

from webapp.jobs.runner import run_job, worker_name
from webapp.jobs.tasks import TASK_OPTIONS

from . import services


@shared_task(name="nextword.suggest", **TASK_OPTIONS)
def suggest(self, job_id):
    return run_job(job_id, services.suggest, worker_name(self))


@shared_task(name="nextword.sample", **TASK_OPTIONS)
def sample(self, job_id):
    return run_job(job_id, services.sample, worker_name(self))


@shared_task(name="nextword.inspect", **TASK_OPTIONS)
def inspect(self, job_id):
    return run_job(job_id, services.inspect, worker_name(self))
