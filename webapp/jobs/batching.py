"""Dynamic batching: an inference worker serves many waiting jobs of one kind with one forward pass.

The web process puts a batched kind's job id (webapp/jobs/kinds.BATCHED) on its queue and kind's Redis list
instead of sending a Celery message. In every inference pool process a `BatchServer` thread takes the oldest id, then
whatever else of that kind is already waiting (up to JOB_BATCH_SIZE; when others were waiting it also waits
JOB_BATCH_WAIT_MS for more, while a lone request never waits), claims them in one UPDATE, runs one batch handler
call per model version, stores every outcome in one UPDATE and publishes each job's completion in one round trip.

Every guarantee of the job spine holds (docs/reliability.md), since the row stays the truth:
- an id taken by a worker that dies before claiming it stays QUEUED, and the sweeper re-sends it;
- a claimed job of a worker that dies mid-batch stops heart-beating and is requeued, or failed with the reason;
- a job cancelled before its batch is claimed is not claimed, so it is not run;
- a batch handler returns one outcome per job (a broken image fails only its job); if the handler itself
  crashes, each job of the batch runs again on its own, so the crash lands only on the job that causes it.
"""
import logging
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

from . import broker, kinds, result_cache, services
from .models import Job
from .runner import attach_version, executing, failure, monitor, outcome

logger = logging.getLogger(__name__)

BATCH_HANDLERS = {}  # kind -> handler(jobs) -> [result dict, or the exception that failed that job]


def batch_handler(kind, handler):
    """Register `handler(jobs)` for a batched kind: `jobs` share one model version; it returns one entry per
    job, in order, a result dict or the exception (usually a JobError) that failed that job alone. Without one,
    each job of a batch runs the kind's own handler."""
    BATCH_HANDLERS[kind] = handler
    return handler


def run_batch(kind, job_ids, worker):
    """Claim the still-queued jobs among `job_ids` and serve them. Returns the jobs claimed."""
    jobs = services.claim_batch(job_ids, worker)
    for job in jobs:
        attach_version(job)
        monitor.track(job)
    try:
        by_version = defaultdict(list)
        for job in jobs:
            by_version[job.model_version_id].append(job)
        outcomes = {}
        with executing:
            for group in by_version.values():
                outcomes.update(zip((job.pk for job in group), serve_cached(kind, group)))
    finally:
        for job in jobs:
            monitor.untrack(job)
    services.finish_batch(jobs, [outcomes[job.pk] for job in jobs])
    return jobs


def serve_cached(kind, jobs):
    """serve() for the jobs whose result is not in the result cache (webapp/jobs/result_cache.py); each distinct
    input runs once."""
    if not result_cache.enabled(kind):
        return serve(kind, jobs)
    keys = [result_cache.redis_key(job) for job in jobs]
    outcomes = [None if result is None else (Job.Status.SUCCEEDED, result, "") for result in result_cache.lookup(keys)]
    first_of = {}   # key -> index of the job that computes it
    for i, key in enumerate(keys):
        if outcomes[i] is None:
            first_of.setdefault(key or i, i)   # an input without a key is its own
    computing = sorted(first_of.values())
    fresh = {}
    for i, answer in zip(computing, serve(kind, [jobs[i] for i in computing])):
        outcomes[i] = answer
        if answer[0] == Job.Status.SUCCEEDED and keys[i]:
            fresh[keys[i]] = answer[1]
    result_cache.store(fresh)
    for i, key in enumerate(keys):
        if outcomes[i] is None:   # the same input as an earlier job of this batch
            status, result, error = outcomes[first_of[key]]
            outcomes[i] = (status, {**result, "from_cache": True} if result else result, error)
    return outcomes


def serve(kind, jobs):
    """(status, result, error) for each job of one kind and model version."""
    from .tasks import HANDLERS

    handler = BATCH_HANDLERS.get(kind)
    if handler is None or len(jobs) == 1:
        return [outcome(HANDLERS[kind], job) for job in jobs]
    try:
        answers = handler(jobs)
    except Exception:
        logger.exception("a batch of %d %s jobs crashed; running each on its own", len(jobs), kind)
        return [outcome(HANDLERS[kind], job) for job in jobs]
    return [failure(job, answer) if isinstance(answer, Exception) else (Job.Status.SUCCEEDED, answer, "")
            for job, answer in zip(jobs, answers)]


class BatchServer:
    """One thread per inference pool process: take waiting jobs of the batched kinds and serve them."""

    def __init__(self, worker, queues, size=None, wait_ms=None):
        self.worker = worker
        self.size = size or settings.JOB_BATCH_SIZE
        self.wait = (settings.JOB_BATCH_WAIT_MS if wait_ms is None else wait_ms) / 1000
        self.lists = {broker.batch_key(queue, kind): kind for queue in queues for kind in kinds.BATCHED}
        self.keys = list(self.lists)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="job-batches", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10):
        """Finish the batch in hand, then stop (a warm shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def take(self, turn):
        """(kind, job ids) waiting first in the kinds' lists, starting the search at kind number `turn` so no
        kind starves another; (None, []) after a second with nothing waiting."""
        client = broker.client()
        popped = client.blpop(self.keys[turn:] + self.keys[:turn], timeout=1)
        if popped is None:
            return None, []
        key, first = popped
        ids = [first] + (client.lpop(key, self.size - 1) or [])
        if 1 < len(ids) < self.size and self.wait > 0:
            time.sleep(self.wait)    # others are arriving together: let a few more join this pass
            ids += client.lpop(key, self.size - len(ids)) or []
        return self.lists[key.decode()], [job_id.decode() for job_id in ids]

    def _loop(self):
        turn, failing = 0, False
        while not self._stop.is_set():
            if executing.locked():  # this process runs a Celery task (a sample, a training run): leave the
                self._stop.wait(0.05)  # waiting jobs to the other processes until it ends
                continue
            try:
                kind, job_ids = self.take(turn)
                turn = (turn + 1) % len(self.keys)
                if job_ids:
                    run_batch(kind, job_ids, self.worker)
                failing = False
            except (RedisError, OSError) as exc:
                if not failing:  # once per outage; the sweeper re-sends what was in flight
                    logger.warning("batch server: Redis unavailable (%s); retrying", exc)
                failing = True
                self._stop.wait(0.5)
            except Exception:  # the database may be away: the jobs stay queued or are swept
                logger.exception("batch server: a batch failed")
                connection.close()
                self._stop.wait(0.5)
        connection.close()


_server = None


def start_server(worker, queues):
    """Serve the batched kinds of `queues` (a worker's queues but the training queue) in this process."""
    global _server
    queues = [q for q in queues if q != kinds.TRAINING_QUEUE]
    if queues:
        _server = BatchServer(worker, queues).start()
    return _server


def stop_server():
    if _server is not None:
        _server.stop()
