"""End-to-end latency through HTTP + Django + Redis + a warm Celery worker, with the shipped models.

    .venv/bin/python bench/web_latency.py                 # starts its own stack (Redis, worker, gunicorn)
    .venv/bin/python bench/web_latency.py --url http://127.0.0.1:8000   # measures a running `make run`

Prints median and p95 for next-word suggestions (POST /api/next-word, the view waits for the worker; sent over
one keep-alive connection, as the page's fetch() calls are while someone types), for translations (POST
/api/translate, a 13-word sentence at beam 5, the same way; skipped when no translator is installed), for
forecasts (POST /api/forecast, CO2 30 weeks ahead from the shipped LSTM, the same way; skipped without it) and for
captions (multipart upload to POST /api/captions with wait, until the caption is ready; a new connection each). The stack it
starts runs with RATELIMIT_ENABLE=0 so the per-client limits do not turn the measurement into 429s.
"""
import argparse
import http.client
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, Stack  # noqa: E402

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


class KeepAlive:
    """One persistent HTTP/1.1 connection, as a browser keeps while someone types."""

    def __init__(self, base):
        self.host, self.port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post_json(self, path, payload):
        try:
            return self._post(path, payload)
        except (http.client.HTTPException, ConnectionError):  # the server closed an idle connection: reopen once
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            return self._post(path, payload)

    def _post(self, path, payload):
        self.conn.request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def next_word(client, prompt, model):
    status, body = client.post_json("/api/next-word", {"text": prompt, "k": 5, "model": model})
    assert status == 200, body
    return body


TRANSLATE = {"text": "A young woman in a red jacket is walking her dog along the beach.", "target": "de", "beam": 5}


def translate(client):
    status, body = client.post_json("/api/translate", TRANSLATE)
    assert status == 200, body
    return body


FORECAST = {"series": "co2", "horizon": 30, "cell": "lstm"}


def forecast(client):
    status, body = client.post_json("/api/forecast", FORECAST)
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


def optional(key, name, request, n):
    """Time ``request()`` n times after a warm-up, if the stack serves it (a model may not be installed)."""
    try:
        for _ in range(5):
            request()
    except AssertionError as exc:
        print(f"{key}: skipped ({str(exc)[:200]})")
        return {}
    timings, runs = [], []
    for _ in range(n):
        start = time.perf_counter()
        body = request()
        timings.append(time.perf_counter() - start)
        runs.append(body["timings"]["run_seconds"])
    return {key: report(name, timings), f"{key}_run": report("  of which: worker run", runs)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("-n", type=int, default=100, help="requests per measurement (after warm-up)")
    parser.add_argument("--model", default="ptb-lstm")
    parser.add_argument("--models-dir", help="checkpoint directories to register (default: the shipped models)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    stack = None
    base = args.url
    if not base:
        stack = Stack(tempfile.mkdtemp(prefix="unroll-bench-"), workers=1, concurrency=1, web_threads=4,
                      models_dir=args.models_dir, env={"RATELIMIT_ENABLE": "0"}).start()
        base = stack.url
    try:
        jpeg = a_jpeg()
        client = KeepAlive(base)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the worker may still be loading its models
            try:
                next_word(client, PROMPTS[0], args.model)
                break
            except AssertionError:
                time.sleep(1)
        for i in range(10):  # warm-up: models loaded, connections open
            next_word(client, PROMPTS[i % len(PROMPTS)], args.model)
        for _ in range(3):
            caption(base, jpeg)

        timings, waits, runs = [], [], []
        for i in range(args.n):
            start = time.perf_counter()
            body = next_word(client, PROMPTS[i % len(PROMPTS)], args.model)
            timings.append(time.perf_counter() - start)
            waits.append(body["timings"]["wait_seconds"])
            runs.append(body["timings"]["run_seconds"])
        results = {"next_word": report(f"next-word ({args.model})", timings),
                   "next_word_queue": report("  of which: row -> worker", waits),
                   "next_word_run": report("  of which: worker run", runs)}

        for key, name, request in (("translate", "translate (13 words, beam 5)", translate),
                                   ("forecast", "forecast (CO2, 30 steps)", forecast)):
            results.update(optional(key, name, lambda: request(client), args.n))

        timings, runs = [], []
        for _ in range(max(20, args.n // 3)):
            start = time.perf_counter()
            body = caption(base, jpeg)
            timings.append(time.perf_counter() - start)
            runs.append(body["timings"]["run_seconds"])
        results["caption"] = report("caption (upload -> ready)", timings)
        results["caption_run"] = report("  of which: worker run", runs)
        if args.json:
            print(json.dumps(results))
    finally:
        if stack:
            stack.stop()


if __name__ == "__main__":
    main()
