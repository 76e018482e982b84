"""Results of repeatable demo requests, kept in Redis for JOB_RESULT_CACHE_SECONDS under their exact input.

A suggestion or a caption depends only on its input and model version, so the same request (a class clicking the
same example) has the same answer. A kind registers a `key_of(job)` naming everything its result depends on; then
- create_job() answers a request whose result is known at once: the job is stored as succeeded, marked
  "from_cache", and never queued, so no worker, broker message or wake-up is spent on it;
- a worker looks the batch it claimed up again (the answer may have arrived since the job was queued), runs
  each distinct input once and stores the new results (webapp/jobs/batching.py).
Redis being away only turns the cache off: requests then run through their model.
"""
import hashlib
import logging

from django.conf import settings
from redis.exceptions import RedisError

from webapp.core import json

from . import broker

logger = logging.getLogger(__name__)

KEYS = {}  # kind -> key_of(job) -> str


def register(kind, key_of):
    """Cache `kind`'s results under `key_of(job)`: a string naming the model version and the whole input."""
    KEYS[kind] = key_of


def enabled(kind):
    return kind in KEYS and settings.JOB_RESULT_CACHE_SECONDS > 0


def redis_key(job):
    """Where `job`'s result is kept, or None when its input cannot be named (a photo that is not there): the
    handler then runs and says what is wrong."""
    try:
        name = KEYS[job.kind](job)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"unroll:result:{job.kind}:{hashlib.sha256(name.encode()).hexdigest()}"


def lookup(keys):
    """The stored result (a dict marked "from_cache") for each Redis key, or None (also for a None key)."""
    named = [key for key in keys if key]
    try:
        stored = dict(zip(named, broker.client().mget(named))) if named else {}
    except RedisError:
        stored = {}
    return [None if stored.get(key) is None else {**json.loads(stored[key]), "from_cache": True} for key in keys]


def store(results):
    """Keep {Redis key: result dict} for JOB_RESULT_CACHE_SECONDS."""
    if not results:
        return
    try:
        pipe = broker.client().pipeline(transaction=False)
        for key, result in results.items():
            pipe.set(key, json.dumps(result), ex=int(settings.JOB_RESULT_CACHE_SECONDS))
        pipe.execute()
    except RedisError as exc:
        logger.warning("could not store results in the cache: %s", exc)
