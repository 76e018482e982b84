"""Celery tasks of this app: each runs one job kind through webapp/jobs (see webapp/jobs/kinds.py)."""
from webapp.jobs.models import Job
from webapp.jobs.tasks import job_task

from . import services


caption = job_task(Job.Kind.CAPTION, services.caption)
# Captions are served in batches (one claim, one store, one publish) but each photo runs the model on its own:
# MobileNetV2 costs as much per photo in a batch on a CPU, and a batched int8 beam search lets batch mates change
# a caption (int8 activations are scaled per batch), so there is no batch handler. Repeated photos are answered
# from the result cache (services.caption_cache_key).
