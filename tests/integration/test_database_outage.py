"""The database goes away under a running web server: clear 503s, then recovery without restarting anything."""
import sys
import time
from pathlib import Path

import pytest

from tests.support.http import get_json as get
from tests.support.tcp_proxy import TcpProxy
from webapp import launcher

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
MISSING_JOB = "/api/jobs/00000000-0000-0000-0000-000000000000"




def test_database_outage_gives_503_then_recovers(worker_env, wait_until):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL: the outage is simulated by cutting its TCP connection")
    proxy = TcpProxy(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)).start()
    url = worker_env["DATABASE_URL"].replace(f":{db.get('PORT') or 5432}/", f":{proxy.port}/")
    port = launcher.free_port()
    env = {**worker_env, "DATABASE_URL": url, "DB_CONN_MAX_AGE": "60"}
    web = launcher.spawn([sys.executable, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{port}",
                          "--workers", "1", "--threads", "2", "--timeout", "30"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base + MISSING_JOB)[0] == 404, timeout=60, message="the web server to answer")
        proxy.cut()
        status, body = get(base + MISSING_JOB)
        assert status == 503, body
        assert "database is unavailable" in body["error"]
        status, health = get(base + "/healthz")
        assert status == 503 and health["database"]["ok"] is False

        proxy.restore()
        started = time.monotonic()
        wait_until(lambda: get(base + MISSING_JOB)[0] == 404, timeout=30, message="recovery after the outage")
        assert time.monotonic() - started < 30
        assert get(base + "/healthz")[1]["database"]["ok"] is True
    finally:
        launcher.stop(web, "web")
        proxy.cut()
