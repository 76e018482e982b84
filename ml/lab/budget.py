"""The lab's limits, presets and time budget: plain Python (no torch), so the web form validates with the very
numbers the worker enforces."""

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
LEAD = 4  # distractors before the symbol (see ml/lab/task.py)
LIMITS = {"distance": (2, 200), "steps": (10, 400), "hidden": (8, 128), "batch": (8, 64), "tbptt": (1, 200),
          "max_norm": (0.01, 100.0), "lr": (1e-5, 1.0), "seed": (0, 2**31 - 1)}
# Relative CPU cost of one time step of each cell (fused kernels, one thread, H <= 64, B = 32). Measured on the
# 2-core dev box: ~75 us per step for RNN and LSTM, ~3x that for GRU (PyTorch's CPU GRU is the slow one).
CELL_COST = {"rnn_tanh": 1.0, "rnn_relu": 1.0, "lstm": 1.0, "gru": 3.0}
# Seconds per unit of work() (one such time step, evaluation and probes included); calibrated with
# bench/lab_speed.py and kept a little pessimistic.
SECONDS_PER_WORK = 1.2e-4
MAX_SECONDS = 20.0

# The page's three presets (also run by bench/lab_speed.py). Each must finish within MAX_SECONDS.
PRESETS = {
    "vanishing": {
        "title": "Vanishing: tanh RNN vs LSTM at T = 50",
        # 400 steps at Adam 2e-3: the LSTM learnt for every seed tried (0-11) on an Intel VM, where 300 steps at
        # the default 5e-3 learnt for 1 of 6 seeds (float sums run in another order than on the AMD dev VMs).
        "config": {"cells": ["rnn_tanh", "lstm"], "distance": 50, "steps": 400, "lr": 0.002},
    },
    "exploding": {
        "title": "Exploding: naive-init ReLU RNN with and without clipping",
        "config": {"cells": ["rnn_relu"], "distance": 10, "steps": 200, "hidden": 16, "init": "naive",
                   "clip": True, "max_norm": 1.0, "optimizer": "sgd"},
    },
    "truncated": {
        "title": "Truncated BPTT k = 5 vs full, LSTM at T = 20",
        "config": {"cells": ["lstm"], "distance": 20, "steps": 300, "tbptt": 5},
    },
}


def sweep_distances(distance, sweep):
    """Distances of the accuracy-vs-T chart: T/8, T/4, T/2 (at least 2, no repeats) and T itself."""
    if not sweep:
        return [distance]
    return sorted({max(2, distance // 8), max(2, distance // 4), max(2, distance // 2), distance})


def work(cells, distance, steps, hidden, batch, variants, sweep):
    """Abstract cost: cell time steps of training, summed over every run and sweep point (+5% for probes)."""
    size = max(1.0, batch / 32) * max(1.0, hidden / 64) ** 1.15
    per_step = sum(CELL_COST[c] for c in cells) * size
    runs = variants * (distance + LEAD + 1)
    extra = sum(d + LEAD + 1 for d in sweep_distances(distance, sweep) if d != distance)
    return per_step * steps * (runs + extra) * 1.05


def estimated_seconds(cells, distance, steps, hidden, batch, variants, sweep):
    return 0.5 + work(cells, distance, steps, hidden, batch, variants, sweep) * SECONDS_PER_WORK
