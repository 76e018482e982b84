"""Training throughput (tokens/s) of the word LM on this CPU, for the levers that matter.

Each row times forward+backward+clip+SGD step on random tokens (V=10k, PTB-sized),
after warm-up steps, and prints the median and p95 step time and tokens/s.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/lm_train_speed.py      # default sweep
    .venv/bin/python bench/lm_train_speed.py --only shipped     # the shipped PTB LSTM recipe only
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ml.lm.model import RNNModel  # noqa: E402
from ml.cpu import has_native_bf16  # noqa: E402
from ml.lm.train import LMConfig, train_loss  # noqa: E402

V = 10000


def zipf_ids(shape, generator=None):
    """Token ids with a Zipf(1) law over a frequency-sorted vocab, like real text (matters for adaptive softmax)."""
    p = 1.0 / torch.arange(1, V + 1, dtype=torch.float)
    return torch.multinomial(p / p.sum(), int(torch.tensor(shape).prod()), replacement=True,
                             generator=generator).view(shape)


def time_steps(cell="lstm", emsize=650, nhid=650, nlayers=2, batch=20, bptt=35, threads=2,
               bf16=False, bf16_rnn=False, compile=False, adaptive=False, steps=8, warmup=2):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = RNNModel(V, cell, emsize, nhid, nlayers, tie_weights=not adaptive)
    model.train()
    cfg = LMConfig(bf16=bf16, bf16_rnn=bf16_rnn)
    if adaptive:
        asm = torch.nn.AdaptiveLogSoftmaxWithLoss(nhid, V, cutoffs=[2000, 6000], div_value=4.0)
        params = list(model.parameters()) + list(asm.parameters())

        def fwd(x, y, hidden):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                h, hidden = model.features(x, hidden)
            # AdaptiveLogSoftmaxWithLoss mixes dtypes internally, so it runs in float32.
            return asm(h.reshape(-1, h.size(-1)).float(), y.reshape(-1)).loss, hidden
    else:
        params = list(model.parameters())

        def fwd(x, y, hidden):
            return train_loss(model, x, y, hidden, cfg)
    if compile:
        fwd = torch.compile(fwd)
    opt = torch.optim.SGD(params, lr=1.0)
    x = zipf_ids((bptt, batch))
    y = zipf_ids((bptt, batch))
    times = []
    for i in range(steps + warmup):
        hidden = model.init_hidden(batch)
        t0 = time.perf_counter()
        loss, _ = fwd(x, y, hidden)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.25)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    p95 = sorted(times)[min(len(times) - 1, int(0.95 * len(times)))]
    return med, p95, batch * bptt / med


SWEEPS = {
    "reference": [dict(batch=20, bptt=35)],
    "batch": [dict(batch=b, bptt=35) for b in (20, 64, 128)],
    "threads": [dict(batch=64, bptt=35, threads=t, bf16=True) for t in (1, 2)],
    "bf16": [dict(batch=64, bptt=35, bf16=True), dict(batch=64, bptt=35, bf16=True, bf16_rnn=True)],
    "adaptive": [dict(batch=64, bptt=35, adaptive=True), dict(batch=64, bptt=35, adaptive=True, bf16=True)],
    "compile": [dict(batch=64, bptt=35, bf16=True, compile=True)],
    "cells": [dict(batch=64, bptt=35, cell=c, emsize=256, nhid=256, bf16=True) for c in ("lstm", "gru", "rnn_tanh")],
    "shipped": [dict(batch=64, bptt=35, bf16=True)],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help=f"sweeps to run: {list(SWEEPS)}")
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    names = args.only or ["reference", "batch", "threads", "bf16", "adaptive", "cells"]
    print(f"torch {torch.__version__}, V={V}, emsize=nhid=650 unless given, 2 layers, tied full softmax unless "
          f"adaptive; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    if not has_native_bf16():
        print("this CPU has no native bf16: bf16 rows are emulated (slow); the trainers use float32 here")
    print(f"{'config':58s} {'median s':>9s} {'p95 s':>8s} {'tok/s':>8s}")
    for name in names:
        for cfg in SWEEPS[name]:
            med, p95, tps = time_steps(steps=args.steps, **cfg)
            label = ", ".join(f"{k}={v}" for k, v in cfg.items())
            print(f"{name + ': ' + label:58s} {med:9.3f} {p95:8.3f} {tps:8.0f}", flush=True)


if __name__ == "__main__":
    main()
