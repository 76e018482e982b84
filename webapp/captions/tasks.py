"""Celery tasks of this app: each runs one job kind through webapp/jobs (see webapp/jobs/kinds.py)."""
from webapp.jobs.batching import batch_handler
from webapp.jobs.models import Job
from webapp.jobs.tasks import job_task

from . import services


caption = job_task(Job.Kind.CAPTION, services.caption)
# Captions are served in batches (one claim, one store, one publish) but each photo runs the model on its own:
# MobileNetV2 costs as much per photo in a batch on a CPU, and a batched int8 beam search lets batch mates change
# a caption (int8 activations are scaled per batch). Repeated photos are answered from the result cache.
batch_handler(Job.Kind.CAPTION, cache_key=services.caption_cache_key)
