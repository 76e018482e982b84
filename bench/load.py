"""Load test: N concurrent clients at the next-word and caption APIs for a bounded time.

    .venv/bin/python bench/load.py                        # 50 clients, 60 s, its own stack with 2 workers
    .venv/bin/python bench/load.py --clients 200 --seconds 120
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000   # against a running `make run`

Every client loops: a next-word request (the view waits for the worker; a 202 is followed to completion) or,
one time in five, a caption upload (with `wait`, and long-polled past it) until its job ends. Afterwards every
job the clients created is read back: "lost" counts jobs that never finished. Prints throughput, p50/p95/p99,
errors, the batch sizes jobs ran in, how many were answered from the result cache and, for a stack it started,
the CPU milliseconds per request of each process (client, web, each worker, Redis); --json for machines.
`--no-cache` runs every request through its model.
"""
import argparse
import io
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import Stack  # noqa: E402

PROMPTS = ["the stock market", "the company said", "shares of", "in new york", "the federal government",
           "mr. brown said the", "analysts expect the"]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else None


def request(method, url, body=b"", headers=None, timeout=300):
    """One HTTP/1.0 request on its own connection, read until the server closes it (as ApacheBench does). A bare
    socket: this client shares the server's CPUs, and it spends about 40 % less CPU a request than http.client."""
    parts = urllib.parse.urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    head = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    message = (f"{method} {target} HTTP/1.0\r\nHost: {parts.netloc}\r\n{head}"
               f"Content-Length: {len(body or b'')}\r\n\r\n").encode() + (body or b"")
    chunks = []
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as connection:
        connection.sendall(message)
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    status_line, _, rest = b"".join(chunks).partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    status = int(status_line.split(b" ", 2)[1])
    try:
        return status, json.loads(payload)
    except ValueError:
        if status < 400:
            raise
        return status, {}   # an error page that is not JSON


def follow(url, deadline):
    """Long-poll a job until it ends; returns its final payload or None at the deadline."""
    while time.monotonic() < deadline:
        status, job = request("GET", f"{url}?wait={min(10.0, max(deadline - time.monotonic(), 0.1)):.1f}")
        if status == 200 and job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        if status != 200:
            time.sleep(0.2)
    return None


def jpeg_bytes():
    from PIL import Image

    flickr = Path(__file__).resolve().parents[2] / "shared" / "data" / "flickr8k" / "images"
    if flickr.is_dir():
        return sorted(flickr.glob("*.jpg"))[0].read_bytes()
    out = io.BytesIO()
    Image.new("RGB", (224, 224), (90, 140, 200)).save(out, "JPEG")
    return out.getvalue()


class Client(threading.Thread):
    def __init__(self, base, stop_at, results, jpeg, model, caption_share, seed):
        super().__init__(daemon=True)
        self.base, self.stop_at, self.results, self.jpeg, self.model = base, stop_at, results, jpeg, model
        self.caption_share, self.rng = caption_share, random.Random(seed)

    def run(self):
        while time.monotonic() < self.stop_at:
            kind = "caption" if self.rng.random() < self.caption_share else "next_word"
            started = time.perf_counter()
            try:
                ok, job_url = self.caption() if kind == "caption" else self.next_word()
            except Exception as exc:  # a refused connection or a timeout is an error to report, not a crash
                ok, job_url = False, None
                self.results["exceptions"].append(f"{type(exc).__name__}: {exc}"[:200])
            self.results[kind].append(time.perf_counter() - started)
            if not ok:
                self.results["errors"] += 1
            if job_url:
                self.results["jobs"].append(job_url)

    def next_word(self):
        body = json.dumps({"text": self.rng.choice(PROMPTS), "k": 5, "model": self.model}).encode()
        status, payload = request("POST", f"{self.base}/api/next-word", body, {"Content-Type": "application/json"})
        if status == 200:
            return True, f"{self.base}/api/jobs/{payload['job_id']}"
        if status == 202:
            job = follow(payload["url"], time.monotonic() + 300)
            return self.check(job, payload["url"]), payload["url"]
        self.results["exceptions"].append(f"next-word HTTP {status}: {payload}"[:300])
        return False, None

    def check(self, job, url):
        if job and job["status"] == "succeeded":
            return True
        self.results["exceptions"].append(f"job {url} ended as {job and job['status']}: {job and job['error']}"[:300])
        return False

    def caption(self):
        boundary = uuid.uuid4().hex
        # `wait`: the API answers when the caption is ready (up to 10 s), else 202 and the client long-polls.
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="wait"\r\n\r\n10\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n").encode() + self.jpeg + f"\r\n--{boundary}--\r\n".encode()
        status, payload = request("POST", f"{self.base}/api/captions", body,
                                  {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if status not in (200, 202):
            self.results["exceptions"].append(f"caption HTTP {status}: {payload}"[:300])
            return False, None
        job = payload if status == 200 else follow(payload["url"], time.monotonic() + 300)
        return self.check(job, payload["url"]), payload["url"]


def summarise(name, seconds, wall):
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "per_s": round(len(ms) / wall, 2), "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(percentile(ms, 95), 1), "p99_ms": round(percentile(ms, 99), 1)}


def run_load(base, clients, seconds, model, caption_share=0.2, fault=None, stack=None):
    """`fault`: (after_seconds, callable) run once while the clients are busy, e.g. a Redis restart. With the
    `stack` this script started, the report says where the CPU went during the load (not the read-back)."""
    before = cpu_snapshot(stack)
    results = {"next_word": [], "caption": [], "errors": 0, "exceptions": [], "jobs": []}
    jpeg = jpeg_bytes()
    started = time.monotonic()
    threads = [Client(base, started + seconds, results, jpeg, model, caption_share, seed=i) for i in range(clients)]
    for t in threads:
        t.start()
    if fault:
        time.sleep(fault[0])
        fault[1]()
    for t in threads:
        t.join(seconds + 600)
    wall = time.monotonic() - started
    after = cpu_snapshot(stack)
    finals = [follow(url, time.monotonic() + 60) for url in results["jobs"]]
    lost = [url for url, job in zip(results["jobs"], finals) if job is None]
    sizes = [job["timings"].get("batch_size") or 1 for job in finals if job and job.get("timings")]
    cached = sum(bool((job or {}).get("result") and job["result"].get("from_cache")) for job in finals)
    spine = {}  # per kind: queued -> started (waiting for a worker) and started -> finished (in the worker), ms
    for job in finals:
        if job and job.get("timings") and job["timings"].get("run_seconds") is not None:
            kind = spine.setdefault(job["kind"], {"wait": [], "run": []})
            kind["wait"].append(1000 * job["timings"]["wait_seconds"])
            kind["run"].append(1000 * job["timings"]["run_seconds"])
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(results["next_word"]) + len(results["caption"]),
        "errors": results["errors"], "jobs": len(results["jobs"]), "lost": len(lost),
        "next_word": summarise("next-word", results["next_word"], wall),
        "caption": summarise("caption", results["caption"], wall),
        "batch_size": {"mean": round(statistics.mean(sizes), 2) if sizes else None, "max": max(sizes, default=None)},
        "from_cache": cached,
        "job_ms": {kind: {part: {"p50": round(statistics.median(v), 2), "p95": round(percentile(v, 95), 2)}
                          for part, v in parts.items()} for kind, parts in spine.items()},
        "first_exceptions": results["exceptions"][:5],
        "redis_restarted": bool(fault),
        "cpu_ms_per_request": cpu_per_request(before, after, len(results["next_word"]) + len(results["caption"])),
    }


def cpu_snapshot(stack):
    """CPU seconds so far of this client process and, for a stack started here, of each of its processes."""
    times = os.times()
    return {"client": times.user + times.system, **(stack.cpu_seconds() if stack else {})}


def cpu_per_request(before, after, requests):
    """Where the CPU went, in milliseconds per request: the client (this script) and each server process."""
    return {name: round(1000 * (after[name] - before.get(name, 0.0)) / max(requests, 1), 2) for name in after}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server; default: start a stack")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes of the started stack")
    parser.add_argument("--web-processes", type=int, default=3, help="gunicorn processes of the started stack")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn process of the started stack")
    parser.add_argument("--model", default="ptb-lstm")
    parser.add_argument("--caption-share", type=float, default=0.2, help="share of requests that are captions")
    parser.add_argument("--no-cache", action="store_true",
                        help="the started stack runs every request through its model (JOB_RESULT_CACHE_SECONDS=0)")
    parser.add_argument("--models-dir", help="checkpoint directories to register (default: the shipped models)")
    parser.add_argument("--restart-redis-at", type=float, metavar="SECONDS",
                        help="kill Redis this many seconds into the run and start it again (fault test)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200:
        parser.error("--clients must be between 1 and 200")
    if not 1 <= args.seconds <= 1800:
        parser.error("--seconds must be between 1 and 1800")

    stack = None
    base = args.url
    if not base:
        # A lost broker message is re-sent after JOB_RESEND_QUEUED_SECONDS; short here so a fault test is short.
        stack = Stack(tempfile.mkdtemp(prefix="unroll-load-"), workers=args.workers, concurrency=1, web_threads=args.web_threads,
                      web_processes=args.web_processes,
                      models_dir=args.models_dir, env={"RATELIMIT_ENABLE": "0", "JOB_RESEND_QUEUED_SECONDS": "10",
                                                       "JOB_SWEEP_SECONDS": "2",
                                                       **({"JOB_RESULT_CACHE_SECONDS": "0"} if args.no_cache else {})}
                      ).start()
        base = stack.url
    elif args.restart_redis_at is not None:
        parser.error("--restart-redis-at needs the stack this script starts (no --url)")
    fault = (args.restart_redis_at, stack.restart_redis) if args.restart_redis_at is not None else None
    try:
        report = run_load(base, args.clients, args.seconds, args.model, args.caption_share, fault=fault, stack=stack)
    finally:
        if stack:
            stack.stop()
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['clients']} clients for {report['seconds']} s: {report['requests']} requests, "
              f"{report['errors']} errors, {report['jobs']} jobs, {report['lost']} lost; batch size mean "
              f"{report['batch_size']['mean']}, max {report['batch_size']['max']}; {report['from_cache']} from the cache")
        for kind in ("next_word", "caption"):
            r = report[kind]
            if r["n"]:
                print(f"  {kind:<10} n={r['n']:<6} {r['per_s']:7.2f}/s  p50 {r['p50_ms']:8.1f} ms  "
                      f"p95 {r['p95_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms")
        for kind, parts in report["job_ms"].items():
            print(f"  {kind:<10} waiting for a worker p50 {parts['wait']['p50']} ms, in the worker p50 "
                  f"{parts['run']['p50']} ms")
        print("  CPU ms per request:", ", ".join(f"{k} {v}" for k, v in report["cpu_ms_per_request"].items()))
        for line in report["first_exceptions"]:
            print("  !", line)
    return 0 if report["errors"] == 0 and report["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
