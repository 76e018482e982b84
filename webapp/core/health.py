"""Health checks: each returns a dict with "ok" and a short reason when it is not."""
import time

from django.db import connection

from webapp.jobs import broker
from webapp.jobs.kinds import BATCHED, TRAINING_QUEUE
from webapp.jobs.worker import worker_states
from webapp.registry.services import active_versions

QUEUES = ("inference", TRAINING_QUEUE)


def _timed(check):
    start = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # any failure of a dependency is a health finding, not a crash
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - start) * 1000, 2)
    return result


def database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def redis_broker():
    client = broker.client()
    client.ping()
    # Celery's Redis transport keeps each queue as a list named after it; batched kinds wait in a list per kind.
    pipe = client.pipeline(transaction=False)
    for name in QUEUES:
        pipe.llen(name)
        for kind in BATCHED:
            pipe.llen(broker.batch_key(name, kind))
    lengths = iter(pipe.execute())
    depths = {name: sum(next(lengths) for _ in range(1 + len(BATCHED))) for name in QUEUES}
    return {"ok": True, "queues": depths}


def workers():
    """Workers count once every pool process has loaded and warmed the active models, so the first visitor
    after start-up is served as fast as the next one."""
    states = worker_states()
    names = sorted(name for name, (warm, processes) in states.items() if warm >= processes)
    warming = sorted(set(states) - set(names))
    error = ("workers are warming up their models" if warming else
             "no Celery worker has announced itself in the last seconds")
    return {"ok": bool(names), "count": len(names), "names": names, "warming": warming,
            **({} if names else {"error": error})}


def models():
    versions = [v.as_dict() for v in active_versions()]
    for v in versions:
        v.pop("metrics", None)
    return {"ok": True, "active": versions}


def report():
    checks = {"database": _timed(database), "broker": _timed(redis_broker)}
    checks["workers"] = _timed(workers) if checks["broker"]["ok"] else {"ok": False, "count": 0,
                                                                         "error": "broker unreachable"}
    checks["models"] = _timed(models) if checks["database"]["ok"] else {"ok": False, "active": [],
                                                                         "error": "database unreachable"}
    checks["ok"] = all(part["ok"] for part in checks.values() if isinstance(part, dict))
    checks["status"] = "ok" if checks["ok"] else "unavailable"
    return checks
