"""Celery tasks of this app: each runs one job kind through webapp/jobs (see webapp/jobs/kinds.py)."""
from webapp.jobs.models import Job
from webapp.jobs.tasks import job_task

from . import services

forecast = job_task(Job.Kind.FORECAST, services.forecast)
