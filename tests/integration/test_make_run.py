"""`make run` on a machine with no Redis running and no DATABASE_URL, then Ctrl-C."""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.http import jpeg, post_image, post_json
from webapp import launcher

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def processes_with_marker(marker):
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def get_health(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None, None


def test_make_run_brings_everything_up_and_ctrl_c_stops_it_all(tmp_path):
    port = launcher.free_port()
    marker = f"UNROLL_RUN_MARKER={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PORT=str(port), UNROLL_VAR_DIR=str(tmp_path / "var"), WORKER_CONCURRENCY="1", WEB_WORKERS="1")
    env[marker.split("=")[0]] = marker.split("=")[1]
    log = open(tmp_path / "make-run.log", "wb")
    # Its own session, so the SIGINT below reaches make and the launcher exactly as Ctrl-C in a terminal would.
    make = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        # `make run` prints its URL only once every worker process has loaded and warmed the active models.
        deadline, output = time.monotonic() + 300, ""
        while time.monotonic() < deadline and make.poll() is None and "Unroll is up on" not in output:
            time.sleep(0.5)
            output = (tmp_path / "make-run.log").read_text(errors="replace")
        assert "Unroll is up on" in output, f"make run never said it was up:\n{output[-3000:]}"
        status, body = get_health(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and body["ok"], body
        assert body["database"]["vendor"] == "sqlite" and body["workers"]["count"] >= 1
        assert len(processes_with_marker(marker)) >= 4  # make, launcher, redis, worker, web

        # The very first requests are served by warm processes: answered at once, nothing loaded on their path.
        status, suggestion = post_json(f"http://127.0.0.1:{port}/api/next-word", {"text": "the stock market"})
        assert status == 200 and suggestion["suggestions"], suggestion
        assert suggestion["timings"]["run_seconds"] < 1.0, suggestion["timings"]
        status, caption = post_image(f"http://127.0.0.1:{port}/api/captions", jpeg(), fields={"wait": "10"})
        assert status == 200 and caption["result"]["caption"], caption
        assert caption["timings"]["run_seconds"] < 2.0, caption["timings"]
        status, forecast = post_json(f"http://127.0.0.1:{port}/api/forecast", {"series": "co2", "horizon": 30})
        assert status == 200 and len(forecast["forecasts"]["rnn"]["median"]) == 30, forecast
        assert forecast["timings"]["run_seconds"] < 0.5, forecast["timings"]     # its series read at warm-up
        after_up = (tmp_path / "make-run.log").read_text(errors="replace").split("Unroll is up on", 1)[1]
        assert "loaded and warmed" not in after_up, "a model was loaded after make run said it was up"
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            pytest.fail("make run did not stop within 60 s of Ctrl-C")
    time.sleep(1)
    assert processes_with_marker(marker) == [], "processes left behind after Ctrl-C"
    assert get_health(f"http://127.0.0.1:{port}/healthz") == (None, None)
