"""Worker start-up: a sweeper thread recovers jobs of dead workers and announces this worker as alive."""
import json
import logging
import os
import threading
import time

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection

from . import broker, services

logger = logging.getLogger(__name__)
_stop = threading.Event()


def _announce(hostname):
    ttl = max(3 * int(settings.JOB_SWEEP_SECONDS), 10)
    broker.client().set(broker.WORKER_KEY.format(hostname), json.dumps({"pid": os.getpid()}), ex=ttl)


PRUNE_EVERY_SECONDS = 600


def _sweep_forever(hostname):
    next_prune = 0.0
    while not _stop.is_set():
        try:
            close_old_connections()
            counts = services.recover_stale_jobs()
            if any(counts.values()):
                logger.warning("job sweep: %s", counts)
            _announce(hostname)
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
    threading.Thread(target=_sweep_forever, args=(hostname,), name="job-sweeper", daemon=True).start()
    logger.info("job sweeper started for %s", hostname)


@worker_shutdown.connect
def stop_sweeper(sender, **kwargs):
    _stop.set()
    try:
        broker.client().delete(broker.WORKER_KEY.format(sender.hostname))
    except Exception:
        pass


def live_workers():
    """Names of workers whose sweeper announced itself recently."""
    prefix = broker.WORKER_KEY.format("")
    return sorted(key.decode()[len(prefix):] for key in broker.client().scan_iter(match=prefix + "*", count=100))
