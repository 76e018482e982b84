"""Celery tasks of this app: each runs one job kind through webapp/jobs (see webapp/jobs/kinds.py)."""
from webapp.jobs.batching import batch_handler
from webapp.jobs.models import Job
from webapp.jobs.tasks import job_task

from . import services


suggest = job_task(Job.Kind.NEXT_WORD, services.suggest)
batch_handler(Job.Kind.NEXT_WORD, services.suggest_batch)
sample = job_task(Job.Kind.SAMPLE, services.sample)
inspect = job_task(Job.Kind.INSPECT, services.inspect)
