"""Wall time for the shipped PTB-LSTM recipe to reach a validation perplexity (default 125.6, issue #3),
next to the pytorch/examples reference measured on the same machine.

Trains from scratch with the shipped stage-1 recipe (ml.lm.train.LMConfig defaults, which are the recipe in
docs/models.md: 650/650 tied LSTM, Adam 2e-3, batch 64, BPTT 35, clip 0.25, EMA, locked dropout), validating
every ``--validate-every`` steps from step ``--validate-from`` on and stopping at the first validation at or
below the target. The reported wall time includes every validation pass.

The reference (pytorch/examples word_language_model, medium tied LSTM, batch 20, SGD lr 20, fp32) reaches 125.6
at the end of its third epoch (issue #3: 201.7 / 147.9 / 125.6). Its time here is 3 epochs of PTB at the
tokens/s its step runs at on this CPU (``bench/lm_train_speed.py``'s reference row), plus 3 validations.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/lm_time_to_ppl.py                  # ~40 min on AVX2, 2 cores
    .venv/bin/python bench/lm_time_to_ppl.py --reference-only                         # ~1 min
    .venv/bin/python bench/lm_time_to_ppl.py --target 300 --validate-every 10 --validate-from 10   # smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import torch  # noqa: E402

from lm_train_speed import time_steps  # noqa: E402
from ml.cpu import has_native_bf16  # noqa: E402
from ml.lm.corpus import batchify, load_corpus  # noqa: E402
from ml.lm.model import RNNModel  # noqa: E402
from ml.lm.train import LMConfig, evaluate, train  # noqa: E402

REFERENCE_EPOCHS_TO_125_6 = 3


def reference_seconds(train_tokens: int, valid_s: float, steps: int) -> dict:
    """Projected reference time to 125.6 here: its per-step speed on this CPU x 3 epochs + 3 validations."""
    med, p95, tokens_per_s = time_steps(batch=20, bptt=35, threads=2, steps=steps)
    train_s = REFERENCE_EPOCHS_TO_125_6 * train_tokens / tokens_per_s
    return {"step_median_s": round(med, 3), "step_p95_s": round(p95, 3), "tokens_per_s": round(tokens_per_s),
            "train_s": round(train_s), "valid_s": round(3 * valid_s), "total_s": round(train_s + 3 * valid_s)}


def validation_seconds(corpus, runs: int = 3) -> tuple[float, float]:
    """Median and p95 seconds of one PTB validation pass (batch 10, BPTT 35) of the 650/650 model."""
    model = RNNModel(len(corpus.vocab), "lstm", 650, 650, 2, tie_weights=True)
    data = batchify(corpus.ids["valid"], 10)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        evaluate(model, data, 35)
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=float, default=125.6)
    ap.add_argument("--validate-every", type=int, default=50, help="steps between validations (415 = one epoch)")
    ap.add_argument("--validate-from", type=int, default=830, help="first step that validates mid-epoch (830 = epoch 2 end)")
    ap.add_argument("--max-minutes", type=float, default=90)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference-steps", type=int, default=6)
    ap.add_argument("--reference-only", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "var" / "bench" / "time-to-ppl"))
    ap.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    corpus = load_corpus("ptb")
    train_tokens = corpus.ids["train"].numel()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, native bf16: {has_native_bf16()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    valid_med, valid_p95 = validation_seconds(corpus)
    print(f"one validation pass: median {valid_med:.1f} s, p95 {valid_p95:.1f} s", flush=True)
    ref = reference_seconds(train_tokens, valid_med, args.reference_steps)
    print(f"reference recipe here: {ref['tokens_per_s']} tokens/s (step median {ref['step_median_s']} s, "
          f"p95 {ref['step_p95_s']} s) -> 3 epochs to 125.6 = {ref['total_s'] / 60:.1f} min", flush=True)
    result = {"target": args.target, "reference": ref, "validation_s": round(valid_med, 1)}
    if not args.reference_only:
        cfg = LMConfig(bf16=True, threads=args.threads, validate_every=args.validate_every,
                       validate_from=args.validate_from, target_ppl=args.target, time_budget_min=args.max_minutes,
                       checkpoint_minutes=1e9, log_every=50,
                       run_dir=str(Path(args.out) / time.strftime("%Y%m%d-%H%M%S")))

        def progress(event):
            if event["event"] in ("epoch", "warning", "done"):
                print(json.dumps({k: v for k, v in event.items() if k != "history"}), flush=True)

        t0 = time.time()
        out = train(cfg, on_progress=progress, corpus=corpus)
        wall = time.time() - t0
        crossed = [h for h in out["history"] if h["valid_ppl"] <= args.target]
        result.update(status=out["status"], wall_s=round(wall, 1), train_wall_s=out["elapsed_s"],
                      valid_wall_s=out["valid_wall_s"], steps=out["step"],
                      epochs=round(out["step"] * cfg.batch_size * cfg.bptt / train_tokens, 3),
                      crossed_at=crossed[0] if crossed else None,
                      history=[{k: h[k] for k in ("epoch", "step", "valid_ppl", "train_wall_s")}
                               for h in out["history"]],
                      speedup_vs_reference=round(ref["total_s"] / wall, 2) if crossed else None)
        print(f"\n{out['status']}: validation {out['best_valid_ppl']:.2f} after {result['epochs']} epochs, "
              f"{wall / 60:.1f} min wall ({out['valid_wall_s'] / 60:.1f} min of it validating); "
              f"reference here {ref['total_s'] / 60:.1f} min -> "
              f"{result['speedup_vs_reference'] or '-'}x", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "history"}))


if __name__ == "__main__":
    main()
