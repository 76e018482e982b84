"""Web side of "the job is done": one Redis subscription per process wakes every request waiting on a job.

A worker commits a job's outcome to the database, then publishes a copy of it on the job's channel.
Subscribing per request would cost a Redis connection, a SUBSCRIBE round trip and two database reads for every
next-word suggestion; instead a daemon thread in each web process pattern-subscribes to all job channels once
and hands each outcome to the request waiting for it.

The database stays the source of truth: a waiter reads the row whenever it cannot be sure the listener saw
every message since its job was created (listener just started, reconnecting after a Redis restart, a message
without an outcome, or a job created by another process), and re-reads it every POLL_SECONDS while it waits.
"""
import logging
import os
import threading
import time
from collections import OrderedDict

import redis
from django.conf import settings
from django.utils.dateparse import parse_datetime
from redis.exceptions import RedisError

from webapp.core import json

from . import broker

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often a waiter re-reads its row while waiting (a lost message costs at most this)
RECENT = 256        # outcomes kept for a request that registers just after its job finished
# Other channels the same subscription hears: channel -> callback(data), e.g. the registry's "something changed".
BROADCASTS = {}


def parse_message(data):
    """A published completion (bytes) -> {"status", "outcome"?}; a bare status sends the reader to the row."""
    try:
        message = json.loads(data)
        if isinstance(message, dict):
            return message
    except ValueError:
        pass
    return {"status": data.decode(errors="replace")}


class Waiter:
    def __init__(self, job_id):
        self.job_id = job_id
        self.event = threading.Event()
        self.raw = None

    def deliver(self, raw):
        self.raw = raw
        self.event.set()

    @property
    def message(self):
        """Parsed by the waiting request, not the listener: every web process hears every completion, and most
        are for other processes' requests."""
        return parse_message(self.raw)


class CompletionListener:
    def __init__(self, url):
        self.url = url
        self._lock = threading.Lock()
        self._waiters = {}              # job id -> Waiter
        self._recent = OrderedDict()    # job id -> last message, so a late registration still gets it
        self._live_since = None         # monotonic time since which the subscription has been unbroken
        self._pid = None

    def ensure_running(self):
        if self._pid == os.getpid():   # the common case, without the lock
            return
        with self._lock:
            if self._pid != os.getpid():  # none yet, or we are a forked child without the parent's thread
                self._pid = os.getpid()
                self._live_since = None
                threading.Thread(target=self._run, name="job-completions", daemon=True).start()

    def live_since(self):
        return self._live_since

    def expect(self, job_id):
        """Register interest in `job_id`'s completion; the returned Waiter is already set if it just finished."""
        self.ensure_running()
        key = str(job_id)
        waiter = Waiter(key)
        with self._lock:
            if key in self._recent:
                waiter.deliver(self._recent[key])
            else:
                self._waiters[key] = waiter
        return waiter

    def forget(self, waiter):
        with self._lock:
            if self._waiters.get(waiter.job_id) is waiter:
                del self._waiters[waiter.job_id]

    def _dispatch(self, channel, data):
        key = channel.decode()[len(broker.JOB_CHANNEL.format("")):]
        with self._lock:
            self._recent[key] = data
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            waiter = self._waiters.pop(key, None)
        if waiter is not None:
            waiter.deliver(data)

    def _run(self):
        backoff = 0.2
        while True:
            pubsub = None
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=30)
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                if BROADCASTS:
                    pubsub.subscribe(*BROADCASTS)
                pubsub.psubscribe(broker.JOB_CHANNEL.format("*"))   # confirmed last: then all are live
                while True:
                    message = pubsub.get_message(timeout=30)
                    if message is None:
                        pubsub.ping()  # keeps a dead connection from going unnoticed
                        continue
                    if message["type"] == "psubscribe":
                        self._live_since = time.monotonic()
                        backoff = 0.2
                    elif message["type"] == "pmessage":
                        self._dispatch(message["channel"], message["data"])
                    elif message["type"] == "message":
                        BROADCASTS[message["channel"].decode()](message["data"])
            except (RedisError, OSError) as exc:
                # Said once per outage, not once per reconnection attempt.
                log = logger.warning if self._live_since is not None else logger.debug
                self._live_since = None
                log("job completion listener lost Redis (%s); waiters read the database meanwhile", exc)
            except Exception:
                self._live_since = None
                logger.exception("job completion listener failed; restarting it")
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


_listeners = {}
_listeners_lock = threading.Lock()


def listener():
    """This process's listener for the configured Redis (tests may point settings at another one)."""
    url = settings.REDIS_URL
    with _listeners_lock:
        if url not in _listeners:
            _listeners[url] = CompletionListener(url)
        return _listeners[url]


def outcome_message(job):
    """What a worker publishes after committing `job`'s outcome: a copy of every field finishing changed."""
    return json.dumps({
        "status": job.status,
        "outcome": {
            "result": job.result,
            "error": job.error,
            "progress": job.progress,
            "attempts": job.attempts,
            "worker": job.worker,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "batch_size": job.batch_size,
        },
    })


def apply_outcome(job, message):
    """Copy a published outcome onto `job` (the same values the worker committed). False if it carries none."""
    outcome = message.get("outcome")
    if not isinstance(outcome, dict):
        return False
    job.status = message["status"]
    for field in ("result", "error", "progress", "attempts", "worker", "batch_size"):
        setattr(job, field, outcome.get(field))
    job.error = job.error or ""
    job.started_at = parse_datetime(outcome["started_at"]) if outcome.get("started_at") else None
    job.finished_at = parse_datetime(outcome["finished_at"]) if outcome.get("finished_at") else None
    return True
