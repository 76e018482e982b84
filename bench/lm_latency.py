"""Next-word latency, batch 1, per shipped LM: NextWordPredictor.suggest() end to end (tokenise, run the
prompt through the RNN, full softmax, top-k), plus a 20-word sample() and an inspect().

    .venv/bin/python bench/lm_latency.py                       # every models/lm-* directory
    .venv/bin/python bench/lm_latency.py models/lm-ptb-lstm --runs 100 --threads 1

Suggestions and samples run on the int8 copy the web app serves; `--float32` also times the exact model.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ml.lm.predictor import NextWordPredictor  # noqa: E402

PROMPTS = {
    "short (3 words)": "the stock market",
    "medium (~40 words)": ("the company said its net income rose sharply in the third quarter because of strong "
                           "demand for its products and analysts said the results were better than expected "
                           "and that the stock market"),
    "10,000 chars": ("investors worried about interest rates sold shares of big banks and the stock market " * 120)[:10000],
}


def timeit(fn, runs: int, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, int(round(0.95 * (len(ts) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dirs", nargs="*")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = default)")
    ap.add_argument("--float32", action="store_true", help="also time suggest() on the float32 weights")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dirs = args.model_dirs or sorted(str(p) for p in (ROOT / "models").glob("lm-*") if p.is_dir())
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, runs={args.runs}, batch 1, times in ms")
    print(f"{'model':24s} {'call':28s} {'p50':>8s} {'p95':>8s}")
    for d in dirs:
        t0 = time.perf_counter()
        p = NextWordPredictor.from_dir(d)
        load_ms = (time.perf_counter() - t0) * 1000
        name = Path(d).name
        print(f"{name:24s} {'from_dir (load)':28s} {load_ms:8.1f}")
        for label, text in PROMPTS.items():
            p50, p95 = timeit(lambda: p.suggest(text, k=5), args.runs)
            print(f"{name:24s} {'suggest k=5, ' + label:28s} {p50:8.2f} {p95:8.2f}", flush=True)
        if args.float32:
            exact = NextWordPredictor(p.model, p.vocab, int8=False)
            for label, text in PROMPTS.items():
                p50, p95 = timeit(lambda: exact.suggest(text, k=5), args.runs)
                print(f"{name:24s} {'float32 suggest, ' + label:28s} {p50:8.2f} {p95:8.2f}", flush=True)
        p50, p95 = timeit(lambda: p.sample("the stock market", n_words=20, seed=0), max(5, args.runs // 5))
        print(f"{name:24s} {'sample 20 words':28s} {p50:8.2f} {p95:8.2f}")
        p50, p95 = timeit(lambda: p.inspect(PROMPTS["medium (~40 words)"]), max(5, args.runs // 5))
        print(f"{name:24s} {'inspect (~40 tokens)':28s} {p50:8.2f} {p95:8.2f}", flush=True)


if __name__ == "__main__":
    main()
