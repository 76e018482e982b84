"""Training throughput (tokens/s) of the word LM on this CPU, for the levers that matter.

Each row times forward+backward+clip+SGD step on random tokens (V=10k, PTB-sized),
after warm-up steps, and prints the median and p95 step time and tokens/s.

    .venv/bin/python bench/lm_train_speed.py                    # default sweep
    .venv/bin/python bench/lm_train_speed.py --only shipped     # the shipped PTB LSTM recipe only
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ml.lm.model import RNNModel  # noqa: E402

V = 10000


def time_steps(cell="lstm", emsize=650, nhid=650, nlayers=2, batch=20, bptt=35, threads=2,
               bf16=False, compile=False, steps=8, warmup=2):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = RNNModel(V, cell, emsize, nhid, nlayers)
    model.train()
    fwd = torch.compile(model.loss) if compile else model.loss
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x = torch.randint(0, V, (bptt, batch))
    y = torch.randint(0, V, (bptt, batch))
    times = []
    for i in range(steps + warmup):
        hidden = model.init_hidden(batch)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = fwd(x, y, hidden)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    p95 = sorted(times)[min(len(times) - 1, int(0.95 * len(times)))]
    return med, p95, batch * bptt / med


SWEEPS = {
    "reference": [dict(batch=20, bptt=35)],
    "batch": [dict(batch=b, bptt=35) for b in (20, 64, 128)],
    "threads": [dict(batch=64, bptt=35, threads=t) for t in (1, 2)],
    "bf16": [dict(batch=64, bptt=35, bf16=True)],
    "compile": [dict(batch=64, bptt=35, compile=True)],
    "cells": [dict(batch=64, bptt=35, cell=c) for c in ("gru", "rnn_tanh")],
    "shipped": [dict(batch=64, bptt=35)],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help=f"sweeps to run: {list(SWEEPS)}")
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    names = args.only or ["batch", "threads", "bf16", "cells"]
    print(f"torch {torch.__version__}, V={V}, emsize=nhid=650, 2 layers, tied, full softmax")
    print(f"{'config':58s} {'median s':>9s} {'p95 s':>8s} {'tok/s':>8s}")
    for name in names:
        for cfg in SWEEPS[name]:
            med, p95, tps = time_steps(steps=args.steps, **cfg)
            label = ", ".join(f"{k}={v}" for k, v in cfg.items())
            print(f"{name + ': ' + label:58s} {med:9.3f} {p95:8.3f} {tps:8.0f}", flush=True)


if __name__ == "__main__":
    main()
