"""Worker start-up: a sweeper thread recovers jobs of dead workers and announces this worker as alive, and
counts it as ready only once each of its pool processes has warmed every active model (webapp/registry/loader.py).
"""
import json
import logging
import os
import threading
import time

from celery.signals import celeryd_init, worker_process_shutdown, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection

from . import broker, services

logger = logging.getLogger(__name__)
_stop = threading.Event()
HOSTNAME_ENV = "UNROLL_WORKER_HOSTNAME"  # how a pool process knows its worker's name (inherited at fork)
QUEUES_ENV = "UNROLL_WORKER_QUEUES"  # the worker's queues, comma-separated (inherited at fork)
DEFAULT_QUEUES = "inference,training"


@celeryd_init.connect
def remember_hostname(sender, options=None, **kwargs):
    os.environ[HOSTNAME_ENV] = sender  # before the pool forks, so every pool process inherits it
    queues = (options or {}).get("queues") or DEFAULT_QUEUES
    os.environ[QUEUES_ENV] = queues if isinstance(queues, str) else ",".join(queues)
    try:
        broker.client().delete(broker.WARM_KEY.format(sender))  # a restarted worker warms up again
    except Exception:
        logger.warning("could not reset the warm-up record of %s", sender)


def mark_process_warm():
    """Called by a pool process once its models are loaded and warmed: it may take jobs at full speed."""
    hostname = os.environ.get(HOSTNAME_ENV)
    if hostname:
        broker.client().sadd(broker.WARM_KEY.format(hostname), os.getpid())


def start_batches():
    """Called by a pool process once warm: it serves the batched kinds of its worker's queues (none for a
    training-only worker)."""
    from .batching import start_server

    queues = [q for q in os.environ.get(QUEUES_ENV, DEFAULT_QUEUES).split(",") if q]
    start_server(f"{os.environ.get(HOSTNAME_ENV, 'worker')}/{os.getpid()}", queues)


@worker_process_shutdown.connect
def stop_batches(**kwargs):
    from .batching import stop_server

    stop_server()


def _announce(hostname, processes):
    ttl = max(3 * int(settings.JOB_SWEEP_SECONDS), 10)
    broker.client().set(broker.WORKER_KEY.format(hostname), json.dumps({"pid": os.getpid(), "processes": processes}),
                        ex=ttl)


PRUNE_EVERY_SECONDS = 600


def _sweep_forever(hostname, processes):
    next_prune = 0.0
    while not _stop.is_set():
        try:
            close_old_connections()
            counts = services.recover_stale_jobs()
            if any(counts.values()):
                logger.warning("job sweep: %s", counts)
            _announce(hostname, processes)
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                pruned = services.prune_ephemeral_jobs()
                if pruned:
                    logger.info("pruned %d old suggestion jobs", pruned)
        except Exception:  # Redis or the database may be briefly away; keep sweeping
            logger.exception("job sweep failed")
            connection.close()
        _stop.wait(settings.JOB_SWEEP_SECONDS)


@worker_ready.connect
def start_sweeper(sender, **kwargs):
    hostname = sender.hostname
    processes = getattr(getattr(sender, "controller", None), "concurrency", 1) or 1
    threading.Thread(target=_sweep_forever, args=(hostname, processes), name="job-sweeper", daemon=True).start()
    logger.info("job sweeper started for %s", hostname)


@worker_shutdown.connect
def stop_sweeper(sender, **kwargs):
    _stop.set()
    try:
        broker.client().delete(broker.WORKER_KEY.format(sender.hostname), broker.WARM_KEY.format(sender.hostname))
    except Exception:
        pass


def worker_states():
    """{worker name: (pool processes warmed, pool processes)} of the workers whose sweeper announced itself
    recently."""
    client = broker.client()
    prefix = broker.WORKER_KEY.format("")
    states = {}
    for key in client.scan_iter(match=prefix + "*", count=100):
        name = key.decode()[len(prefix):]
        try:
            processes = int(json.loads(client.get(key) or "{}").get("processes", 1))
        except (ValueError, TypeError):
            processes = 1
        states[name] = (client.scard(broker.WARM_KEY.format(name)), processes)
    return states
