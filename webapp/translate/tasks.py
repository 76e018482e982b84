"""Celery tasks of this app: each runs one job kind through webapp/jobs (see webapp/jobs/kinds.py)."""
from webapp.jobs.batching import batch_handler
from webapp.jobs.models import Job
from webapp.jobs.tasks import job_task

from . import services

translate = job_task(Job.Kind.TRANSLATE, services.translate)
batch_handler(Job.Kind.TRANSLATE, services.translate_batch)
