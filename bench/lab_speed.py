"""Gradient lab: wall time of each preset experiment (issue #8 asks for <= 20 s each on the 2-core box).

Runs ml.lab.run_experiment in this process exactly as the worker does (one torch thread), `--runs` times per
preset, and prints median / p95 wall seconds, the cost model's estimate, and the gradient ratios
‖∂L/∂h‖ at distance min(50, T) / at distance 1 that the page shows.

    .venv/bin/python bench/lab_speed.py                    # every preset, 3 runs each
    .venv/bin/python bench/lab_speed.py vanishing --runs 5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ml.lab.experiment import PRESETS, ExperimentConfig, run_experiment  # noqa: E402


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def fmt(value):
    return "—" if value is None else f"{value:.2g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("presets", nargs="*", help=f"any of {', '.join(PRESETS)} (default: all)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    unknown = [n for n in args.presets if n not in PRESETS]
    if unknown:
        ap.error(f"unknown preset {unknown[0]!r}; choose from {', '.join(PRESETS)}")
    names = args.presets or list(PRESETS)
    print(f"runs={args.runs}, one torch thread per experiment (as in the worker), times in wall seconds")
    print(f"{'preset':10s} {'estimate':>8s} {'p50':>6s} {'p95':>6s} {'max':>6s}  gradient left at distance min(50, T), "
          "start -> trained; final accuracy")
    for name in names:
        cfg = ExperimentConfig.from_dict(PRESETS[name]["config"])
        seconds, result = [], None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = run_experiment(cfg)
            seconds.append(time.perf_counter() - t0)
            if result["time_limited"]:
                print(f"  ! {name}: hit the {cfg.time_limit:.0f} s safety limit")
        runs = "; ".join(f"{r['label']}: {fmt(r['grad_ratio']['init'])} -> {fmt(r['grad_ratio']['trained'])}, "
                         f"acc {fmt(r['final_accuracy'])}" for r in result["runs"])
        print(f"{name:10s} {cfg.estimated_seconds():8.1f} {statistics.median(seconds):6.2f} {p95(seconds):6.2f} "
              f"{max(seconds):6.2f}  {runs}", flush=True)


if __name__ == "__main__":
    main()
