"""End-to-end latency through HTTP + Django + Redis + a warm Celery worker, with the shipped models.

    .venv/bin/python bench/web_latency.py                 # starts its own stack (Redis, worker, gunicorn)
    .venv/bin/python bench/web_latency.py --url http://127.0.0.1:8000   # measures a running `make run`

Prints median and p95 for next-word suggestions (POST /api/next-word, the view waits for the worker) and for
captions (multipart upload to POST /api/captions with wait, until the caption is ready).
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp import launcher  # noqa: E402

PROMPTS = ["the stock market", "the company said it will", "in new york stock exchange composite trading",
           "mr. smith said the", "the bank's chief executive", "shares of the company rose"]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(name, seconds):
    ms = [s * 1000 for s in seconds]
    print(f"{name:<28} n={len(ms):<4} median {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   "
          f"min {min(ms):6.1f} ms")
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 95), 2)}


def post(url, body, headers):
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def next_word(base, prompt, model):
    status, body = post(f"{base}/api/next-word", json.dumps({"text": prompt, "k": 5, "model": model}).encode(),
                        {"Content-Type": "application/json"})
    assert status == 200, body
    return body


def caption(base, jpeg):
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="wait"\r\n\r\n10\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + jpeg + f"\r\n--{boundary}--\r\n".encode()
    status, payload = post(f"{base}/api/captions", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and payload["status"] == "succeeded", payload
    return payload


def a_jpeg():
    flickr = ROOT.parent / "shared" / "data" / "flickr8k" / "images"
    if flickr.is_dir():
        return next(iter(sorted(flickr.glob("*.jpg")))).read_bytes()
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (224, 224), (120, 160, 200)).save(out, "JPEG")
    return out.getvalue()


def start_stack(workdir, port):
    """Redis, a migrated SQLite database with the shipped models, one worker and gunicorn, like `make run`."""
    env = dict(os.environ, UNROLL_VAR_DIR=str(workdir), DJANGO_SETTINGS_MODULE="webapp.settings.dev", DEBUG="0")
    env.pop("DATABASE_URL", None) if "--keep-db" not in sys.argv else None
    url, redis_proc = launcher.start_redis(workdir=Path(workdir) / "redis")
    env["REDIS_URL"] = url
    for args in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"], ["register_models"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    worker = launcher.spawn(launcher.worker_command(concurrency=1, loglevel="warning"), env=env,
                            log=Path(workdir) / "worker.log")
    web = launcher.spawn([sys.executable, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{port}",
                          "--worker-class", "gthread", "--workers", "1", "--threads", "4", "--log-level", "warning"],
                         env=env, log=Path(workdir) / "web.log")
    return [("web", web), ("worker", worker), ("redis", redis_proc)]


def wait_healthy(base, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the stack did not become healthy")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("-n", type=int, default=100, help="requests per measurement (after warm-up)")
    parser.add_argument("--model", default="ptb-lstm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    children, workdir = [], None
    base = args.url
    if not base:
        workdir = tempfile.mkdtemp(prefix="unroll-bench-")
        port = launcher.free_port()
        children = start_stack(workdir, port)
        base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        jpeg = a_jpeg()
        for i in range(10):  # warm-up: models loaded, connections open
            next_word(base, PROMPTS[i % len(PROMPTS)], args.model)
        for _ in range(3):
            caption(base, jpeg)

        timings = []
        for i in range(args.n):
            start = time.perf_counter()
            next_word(base, PROMPTS[i % len(PROMPTS)], args.model)
            timings.append(time.perf_counter() - start)
        results = {"next_word": report(f"next-word ({args.model})", timings)}

        timings = []
        for _ in range(max(20, args.n // 3)):
            start = time.perf_counter()
            caption(base, jpeg)
            timings.append(time.perf_counter() - start)
        results["caption"] = report("caption (upload -> ready)", timings)
        if args.json:
            print(json.dumps(results))
    finally:
        for name, proc in children:
            launcher.stop(proc, name)


if __name__ == "__main__":
    main()
