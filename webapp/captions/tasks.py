from celery import shared_task

from webapp.jobs.runner import run_job, worker_name
from webapp.jobs.tasks import TASK_OPTIONS

from . import services


@shared_task(name="captions.caption", **TASK_OPTIONS)
def caption(self, job_id):
    return run_job(job_id, services.caption, worker_name(self))
