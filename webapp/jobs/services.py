"""Jobs: create, enqueue, claim, finish, wait, cancel and recover. Views, tasks and the sweeper all call this.

Life of a job: create_job() writes a QUEUED row and, once the transaction commits, sends its id to the broker.
A worker claims it (QUEUED -> RUNNING, attempts + 1) with a conditional UPDATE, so a duplicate message is
harmless. While it runs, the worker's heartbeat thread touches heartbeat_at. finish() stores the outcome only
if that worker still holds the job, then publishes a copy of it on the job's Redis channel so a waiting web
request wakes at once without reading the row again (webapp/jobs/completions.py). The sweeper requeues (or
fails) RUNNING jobs whose heartbeat went stale and re-sends QUEUED jobs whose message may have been lost.
"""
import functools
import logging
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from . import broker, completions, kinds, result_cache
from .models import Job

logger = logging.getLogger(__name__)

class JobError(Exception):
    """A failure whose message is meant for the user (bad input, missing model)."""


class JobCancelled(Exception):
    """Raised inside a handler when staff or the owner cancelled the job."""


def create_job(kind, input=None, *, input_file=None, owner=None, session_key="", model_version=None, queue=None):
    if kind not in kinds.QUEUES:
        raise ValueError(f"unknown job kind {kind!r}")
    now = timezone.now()
    job = Job(
        kind=kind,
        queued_at=now,
        enqueued_at=now,  # set before the send; a failed send clears it
        input=input or {},
        owner=owner if owner is not None and owner.is_authenticated else None,
        session_key=session_key or "",
        model_version=model_version,
        queue=queue or kinds.QUEUES[kind],
    )
    if input_file is not None:
        job.input_file.save(input_file.name, input_file, save=False)
    if model_version is not None and result_cache.enabled(kind):
        answer_from_cache(job)
    # Any completion message after this instant is for a job that exists; see wait_for_job().
    job.created_monotonic = time.monotonic()
    insert(job)
    if job.status == Job.Status.QUEUED:
        transaction.on_commit(lambda: enqueue(job))
    return job


def insert(job):
    """Write a new job's row as job.save() would, each field preparing its own value, without the generic save
    machinery (update-or-insert, signals, the SQL compiler): that was over a third of save()'s CPU, on the path
    of every demo request. Job has no save() override or signal receivers to skip."""
    fields = Job._meta.concrete_fields
    values = [field.get_db_prep_save(field.pre_save(job, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), values)
    job._state.adding, job._state.db = False, connection.alias


@functools.cache
def _insert_sql(vendor):
    quote = connection.ops.quote_name
    fields = Job._meta.concrete_fields
    return (f"INSERT INTO {quote(Job._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})")


def answer_from_cache(job):
    """A request whose answer is in the result cache is stored as succeeded, never queued: no broker message,
    worker or wake-up is spent on it (webapp/jobs/result_cache.py)."""
    (result,) = result_cache.lookup([result_cache.redis_key(job)])   # an input without a key: None
    if result is not None:
        job.status, job.result, job.enqueued_at = Job.Status.SUCCEEDED, result, None
        job.started_at = job.finished_at = job.queued_at


def enqueue(job):
    """Send the job's id to its queue: a batched kind's Redis list (webapp/jobs/batching.py), else a Celery
    message. On a broker failure the row stays QUEUED and the sweeper re-sends it."""
    try:
        if kinds.is_batched(job):
            broker.client().rpush(broker.batch_key(job.queue, job.kind), str(job.id))
        else:
            current_app.send_task(kinds.task_name(job.kind), args=[str(job.id)], queue=job.queue,
                                  ignore_result=True)
    except (KombuError, RedisError, OSError) as exc:
        logger.warning("could not enqueue job %s (%s); it stays queued and will be re-sent", job.id, exc)
        Job.objects.filter(pk=job.pk).update(enqueued_at=None)
        return False
    return True


def mark_enqueued(job):
    """After a re-send: the sweeper measures the next resend from now."""
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())


def claim(job_id, worker):
    """QUEUED -> RUNNING for exactly one worker. Returns the job, or None if someone else has it or it ended.

    One statement claims the row and reads it back (UPDATE ... RETURNING, on PostgreSQL and SQLite >= 3.35):
    this sits on the path of every next-word suggestion.
    """
    table = connection.ops.quote_name(Job._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    job_key = Job._meta.pk.get_db_prep_value(job_id, connection)
    rows = list(Job.objects.raw(
        f"UPDATE {table} SET status = %s, worker = %s, started_at = %s, heartbeat_at = %s, attempts = attempts + 1 "
        f"WHERE id = %s AND status = %s RETURNING *",
        [Job.Status.RUNNING, worker, now, now, job_key, Job.Status.QUEUED],
    ))
    return rows[0] if rows else None


def claim_batch(job_ids, worker):
    """claim() for many jobs in one statement: those still QUEUED become RUNNING for `worker`; the others (taken,
    cancelled or ended) are left alone. Returns the claimed jobs."""
    if not job_ids:
        return []
    table = connection.ops.quote_name(Job._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    keys = [Job._meta.pk.get_db_prep_value(job_id, connection) for job_id in job_ids]
    return list(Job.objects.raw(
        f"UPDATE {table} SET status = %s, worker = %s, started_at = %s, heartbeat_at = %s, attempts = attempts + 1 "
        f"WHERE id IN ({', '.join(['%s'] * len(keys))}) AND status = %s RETURNING *",
        [Job.Status.RUNNING, worker, now, now, *keys, Job.Status.QUEUED],
    ))


def finish_batch(jobs, outcomes):
    """finish() for a batch in one statement: `outcomes` are (status, result, error) in the order of `jobs`.
    Each outcome is stored only where its worker still holds the job (same guard as finish()); each stored one
    is published. Returns the ids stored."""
    if not jobs:
        return set()
    table = connection.ops.quote_name(Job._meta.db_table)
    finished_at = timezone.now()
    result_field = Job._meta.get_field("result")
    # A NULL-only column of VALUES has no type in PostgreSQL: say it is JSON.
    as_json = "::jsonb" if connection.vendor == "postgresql" else ""
    rows, params = [], []
    for job, (status, result, error) in zip(jobs, outcomes):
        rows.append("(%s, %s, %s, %s, %s)")
        params += [Job._meta.pk.get_db_prep_value(job.pk, connection), status,
                   result_field.get_db_prep_value(result, connection), error, job.attempts]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH outcome (job_id, status, result, error, attempts) AS (VALUES {', '.join(rows)}) "
            f"UPDATE {table} SET status = outcome.status, result = outcome.result{as_json}, error = outcome.error, "
            f"finished_at = %s, batch_size = %s FROM outcome "
            f"WHERE {table}.id = outcome.job_id AND {table}.status = %s AND {table}.worker = %s "
            f"AND {table}.attempts = outcome.attempts RETURNING {table}.id",
            [*params, connection.ops.adapt_datetimefield_value(finished_at), len(jobs), Job.Status.RUNNING,
             jobs[0].worker])
        stored = {Job._meta.pk.to_python(row[0]) for row in cursor.fetchall()}
    done = []
    for job, (status, result, error) in zip(jobs, outcomes):
        if job.pk in stored:
            job.status, job.result, job.error, job.finished_at, job.batch_size = (status, result, error, finished_at,
                                                                                 len(jobs))
            done.append(job)
    publish_many(done)
    return stored


def publish_many(jobs):
    """publish_done() for finished jobs in one Redis round trip."""
    if not jobs:
        return
    try:
        pipe = broker.client().pipeline(transaction=False)
        for job in jobs:
            pipe.publish(broker.job_channel(job.pk), completion_message(job.status, job))
        pipe.execute()
    except RedisError as exc:
        logger.warning("could not publish the completion of %d jobs: %s", len(jobs), exc)


def finish(job, status, *, result=None, error=""):
    """Store the outcome if `job` (as claimed) still holds the row; a requeued or cancelled job is not overwritten."""
    finished_at = timezone.now()
    updated = Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, worker=job.worker, attempts=job.attempts
    ).update(status=status, result=result, error=error, finished_at=finished_at)
    if updated:
        job.status, job.result, job.error, job.finished_at = status, result, error, finished_at
        publish_done(job.pk, status, job)
    return bool(updated)


def report_progress(job_id, progress):
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(progress=progress)


def completion_message(status, job=None):
    """What is published when a job ends: with the finished `job`, a copy of its outcome (see completions.py);
    a bare status when there is none or it is not JSON-serialisable (waiters then read the row)."""
    if job is not None:
        try:
            return completions.outcome_message(job)
        except (TypeError, ValueError):
            pass
    return status


def publish_done(job_id, status, job=None):
    """Tell waiting requests; with the finished `job`, the message carries its outcome (see completions.py)."""
    try:
        broker.client().publish(broker.job_channel(job_id), completion_message(status, job))
    except RedisError as exc:
        # Waiters fall back to reading the database when their wait times out.
        logger.warning("could not publish completion of job %s: %s", job_id, exc)


def wait_for_job(job, timeout, queryset=None):
    """Block up to `timeout` seconds for `job` (a Job, or its id read through `queryset`: Job.DoesNotExist if
    there is none) to finish; returns it, as fresh as the database.

    Wakes on the worker's completion message (webapp/jobs/completions.py), whose outcome copy saves reading
    the row. The row is read instead whenever the message might have been missed: the listener was not
    subscribed since before this process created the job (or another process created it), the message had
    no outcome, Redis is away (then every 50 ms), and every POLL_SECONDS regardless.
    """
    if isinstance(job, Job) and job.is_finished and getattr(job, "created_monotonic", None) is not None:
        return job   # created finished (answered from the result cache): the row is this object
    deadline = time.monotonic() + timeout
    listener = completions.listener()
    waiter = listener.expect(job.pk if isinstance(job, Job) else job)
    try:
        created = getattr(job, "created_monotonic", None)
        live_since = listener.live_since()
        if not isinstance(job, Job):
            job = (queryset if queryset is not None else Job.objects).get(pk=job)
        elif created is None or live_since is None or live_since > created:
            job.refresh_from_db()
        while not job.is_finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            poll = completions.POLL_SECONDS if listener.live_since() is not None else 0.05
            if waiter.event.wait(min(remaining, poll)):
                if completions.apply_outcome(job, waiter.message):
                    break
                waiter.event.clear()  # a bare status (cancel, sweeper): the row has the rest
            job.refresh_from_db()
        return job
    finally:
        listener.forget(waiter)


def cancel(job):
    """Cancel a queued job at once; ask a running one to stop (its handler checks and stops within seconds)."""
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, finished_at=now, error="Cancelled before it started."
    ):
        publish_done(job.pk, Job.Status.CANCELLED)
    else:
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return job


def recover_stale_jobs(now=None):
    """Requeue or fail RUNNING jobs whose worker stopped heart-beating; re-send QUEUED jobs never claimed.

    Safe to run from every worker at once: each change is a conditional UPDATE that only one sweeper wins.
    Returns counts for logging and tests.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stale_before = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    for job in Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=stale_before):
        max_attempts = kinds.MAX_ATTEMPTS.get(job.kind, settings.JOB_MAX_ATTEMPTS)
        lost = f"Worker {job.worker or '?'} stopped responding during attempt {job.attempts} of {max_attempts}"
        same_attempt = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, worker=job.worker)
        if job.attempts < max_attempts:
            if same_attempt.update(status=Job.Status.QUEUED, worker="", error=f"{lost}; requeued.",
                                   enqueued_at=now):
                counts["requeued"] += 1
                enqueue(job)
        elif same_attempt.update(
            status=Job.Status.FAILED,
            finished_at=now,
            error=f"{lost}; the worker was killed or crashed, so the job was given up after {job.attempts} attempt(s).",
        ):
            counts["failed"] += 1
            publish_done(job.pk, Job.Status.FAILED)

    resend_before = now - timedelta(seconds=settings.JOB_RESEND_QUEUED_SECONDS)
    unclaimed = Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(enqueued_at__lt=resend_before) | Q(enqueued_at__isnull=True, queued_at__lt=resend_before)
    )
    for job in unclaimed[:500]:
        if enqueue(job):
            mark_enqueued(job)
            counts["resent"] += 1
    return counts


# Suggestions are made per keystroke and have no page of their own: they are kept a short while only.
EPHEMERAL_KINDS = (Job.Kind.NEXT_WORD, Job.Kind.INSPECT, Job.Kind.DIAGNOSTIC)


def prune_ephemeral_jobs(now=None):
    """Delete finished suggestion/inspection/diagnostic jobs older than JOB_EPHEMERAL_DAYS. Returns the count."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.JOB_EPHEMERAL_DAYS)
    deleted, _ = Job.objects.filter(kind__in=EPHEMERAL_KINDS, status__in=Job.FINISHED, queued_at__lt=cutoff).delete()
    return deleted
