from celery import shared_task

from webapp.jobs.runner import run_job, worker_name
from webapp.jobs.tasks import TASK_OPTIONS

from . import services


@shared_task(name="training.train", **TASK_OPTIONS)
def train(self, job_id):
    return run_job(job_id, services.run_training, worker_name(self))
