"""Redis access shared by the web process and the workers: one connection pool per process."""
import functools

import redis
from django.conf import settings

JOB_CHANNEL = "unroll:job:{}"
WORKER_KEY = "unroll:worker:{}"
# Ids of queued jobs of one batched kind on one queue, oldest first (webapp/jobs/batching.py).
BATCH_KEY = "unroll:batch:{}:{}"
# The pool processes of a worker that have loaded and warmed every active model (a set of pids).
WARM_KEY = "unroll:warm:{}"


@functools.lru_cache(maxsize=4)
def _client(url):
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def client():
    return _client(settings.REDIS_URL)


def job_channel(job_id):
    return JOB_CHANNEL.format(job_id)


def batch_key(queue, kind):
    return BATCH_KEY.format(queue, kind)
