"""Every job kind once: the Celery task that runs it and the queue it goes to.

The web process sends a job's id to `task_name(kind)` on `QUEUES[kind]` without importing the task (so it never
imports torch); each app's tasks.py registers its handler under the same name with `jobs.tasks.job_task`.
"""
from .models import Job

# Training runs get their own workers (`-Q training`), so a long run never delays a caption.
TRAINING_QUEUE = "training"
QUEUES = {kind: TRAINING_QUEUE if kind == Job.Kind.TRAIN else "inference" for kind in Job.Kind}
# A training run whose worker died is not retried blindly (the same hyper-parameters may kill it again): it
# fails with the reason and keeps its last checkpoint. Other kinds get settings.JOB_MAX_ATTEMPTS.
MAX_ATTEMPTS = {Job.Kind.TRAIN: 1}


def task_name(kind):
    return f"unroll.{kind}"

# Kinds whose jobs workers serve in batches (webapp/jobs/batching.py): their ids go onto a Redis list per queue
# and kind instead of one Celery message each. The diagnostic round trip takes the same path as the demos.
# A job on the training queue (a forecast that trains first) stays a Celery task.
BATCHED = (Job.Kind.NEXT_WORD, Job.Kind.CAPTION, Job.Kind.TRANSLATE, Job.Kind.FORECAST, Job.Kind.DIAGNOSTIC)


def is_batched(job):
    return job.kind in BATCHED and job.queue != TRAINING_QUEUE
