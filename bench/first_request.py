"""First-request latency after `make run` says it is up: start the launcher (Redis, SQLite, workers, gunicorn)
in a scratch folder, wait for its "Unroll is up" line, time the very first next-word suggestion and the very
first caption (and the next few, for comparison), stop it with Ctrl-C; repeat.

Goal (issue #21): first next-word <= 200 ms, first caption <= 300 ms, end to end over HTTP.

    .venv/bin/python bench/first_request.py              # 3 fresh starts
    .venv/bin/python bench/first_request.py --starts 5 --concurrency 2
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.http import jpeg, post_image, post_json  # noqa: E402
from webapp import launcher  # noqa: E402


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(call):
    started = time.perf_counter()
    status, body = call()
    if status != 200:
        raise RuntimeError(f"answer {status}: {body}")
    return (time.perf_counter() - started) * 1000


def one_start(concurrency, workdir):
    """-> (seconds until 'up', [next-word ms], [caption ms]) for one fresh `make run`."""
    port = launcher.free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PORT=str(port), UNROLL_VAR_DIR=str(workdir), WORKER_CONCURRENCY=str(concurrency))
    log_path = Path(workdir) / "launcher.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "webapp.launcher"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    try:
        while "Unroll is up on" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(f"make run did not come up:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        up = time.monotonic() - started
        url = f"http://127.0.0.1:{port}"
        words = [timed(lambda: post_json(f"{url}/api/next-word", {"text": "the stock market", "k": 8}))
                 for _ in range(5)]
        photo = jpeg((400, 300), (90, 140, 200))
        captions = [timed(lambda: post_image(f"{url}/api/captions", photo, fields={"wait": "10"})) for _ in range(3)]
        return up, words, captions
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, as WORKER_CONCURRENCY")
    args = parser.parse_args()
    ups, first_words, later_words, first_captions, later_captions = [], [], [], [], []
    for i in range(args.starts):
        with tempfile.TemporaryDirectory(prefix="unroll-first-") as workdir:
            up, words, captions = one_start(args.concurrency, workdir)
        ups.append(up)
        first_words.append(words[0])
        later_words += words[1:]
        first_captions.append(captions[0])
        later_captions += captions[1:]
        print(f"start {i + 1}: up after {up:.1f} s; first next-word {words[0]:.0f} ms, first caption "
              f"{captions[0]:.0f} ms", flush=True)
    print(f"\n{args.starts} starts, {args.concurrency} worker processes; milliseconds over HTTP")
    for name, values in [("first next-word", first_words), ("later next-word", later_words),
                         ("first caption", first_captions), ("later caption", later_captions)]:
        print(f"{name:16s} median {statistics.median(values):6.0f}  p95 {p95(values):6.0f}  max {max(values):6.0f}")
    print(f"{'up after (s)':16s} median {statistics.median(ups):6.1f}")


if __name__ == "__main__":
    main()
