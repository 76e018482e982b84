"""Celery tasks of this app: each runs one job kind through webapp/jobs (see webapp/jobs/kinds.py)."""
from webapp.jobs.models import Job
from webapp.jobs.tasks import job_task

from . import services


caption = job_task(Job.Kind.CAPTION, services.caption)
