from celery import shared_task

from webapp.jobs.runner import run_job, worker_name
from webapp.jobs.tasks import TASK_OPTIONS

from . import services


@shared_task(name="lab.experiment", **TASK_OPTIONS)
def experiment(self, job_id):
    return run_job(job_id, services.experiment, worker_name(self))
