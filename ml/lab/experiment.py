"""Gradient lab experiments: train small recurrent nets on delayed recall and watch their gradients.

One experiment trains each chosen cell (vanilla RNN with tanh or ReLU, LSTM, GRU) on the same data stream from
the same seed, then reports, as plain JSON-able lists:

* loss and gradient-norm curves per training step, accuracy on a held-out batch every few steps;
* ‖∂L/∂h_t‖ against the distance T - t between the hidden state h_t and the loss, before and after training
  (measured step by step with retain_grad, so it is the true gradient, not an estimate);
* twins that differ in one thing only: with clipping on, every cell also runs unclipped (the exploding run and
  its clipped twin); with truncated BPTT k, every cell also runs with full BPTT;
* final accuracy against the distance T (a small sweep of shorter distances, same steps each).

Shapes: T = distance, L = LEAD + T + 1 = sequence length, B = batch, E = embedding size, H = hidden size,
C = number of symbols (classes). Inputs are time-major LongTensor (L, B) as built by `ml.lab.task.RecallTask`;
gradient profiles are lists of length L indexed by distance d = 0 .. L - 1 from the loss (the symbol is at d = T).
Everything runs on one CPU thread so the experiment leaves the rest of the machine alone.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .task import RecallTask
from .budget import (CELL_COST, CELLS, LEAD, LIMITS, MAX_SECONDS, PRESETS, SECONDS_PER_WORK,  # noqa: F401
                     estimated_seconds, sweep_distances)

CELL_LABELS = {"rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU"}
INITS = ("xavier", "naive")
OPTIMIZERS = ("adam", "sgd")
DEFAULT_LR = {"adam": 0.005, "sgd": 0.05}
EMBED = 16
EVAL_BATCH = 128
PROBE_BATCH = 64
GATE_BIAS = 3.0  # LSTM forget-gate / GRU update-gate bias at init (see RecallNet.reset_parameters)



class ExperimentStopped(Exception):
    """Raised when `should_stop()` says the visitor (or staff) cancelled the experiment."""


@dataclass(frozen=True)
class ExperimentConfig:
    """One gradient-lab experiment. Construction validates every field and raises ValueError in plain words.

    cells: subset of CELLS, trained side by side on identical data.
    distance: T, steps between the symbol and the query (2-200).
    init: 'xavier' (scaled to keep signals near unit size) or 'naive' (every weight ~ N(0, 1)).
    clip: clip the total gradient norm to max_norm; also trains an unclipped twin of every cell.
    tbptt: truncated BPTT window k (gradients stop k steps before the loss); None = full BPTT. When set, a
        full-BPTT twin of every cell is trained too.
    sweep: also train at shorter distances (T/8, T/4, T/2) for the accuracy-vs-T chart.
    time_limit: wall-clock safety net in seconds; training stops early (and says so) if the machine is slower
        than the cost model expects. Configs the model predicts over MAX_SECONDS are refused up front.
    """

    cells: tuple = ("rnn_tanh", "lstm")
    distance: int = 50
    steps: int = 300
    hidden: int = 64
    batch: int = 32
    init: str = "xavier"
    clip: bool = False
    max_norm: float = 1.0
    tbptt: int | None = None
    optimizer: str = "adam"
    lr: float | None = None
    sweep: bool = True
    seed: int = 0
    symbols: int = 4
    time_limit: float = field(default=MAX_SECONDS, repr=False)  # not settable from from_dict()

    def __post_init__(self):
        cells = self.cells
        if isinstance(cells, str) or not isinstance(cells, (list, tuple)):
            raise ValueError("cells must be a list such as ['rnn_tanh', 'lstm'].")
        unknown = [c for c in cells if c not in CELLS]
        if unknown:
            raise ValueError(f"Unknown cell {unknown[0]!r}: choose from {', '.join(CELLS)}.")
        if not cells:
            raise ValueError("Choose at least one cell to train.")
        # Keep the canonical order and drop duplicates, so the charts are always drawn the same way.
        object.__setattr__(self, "cells", tuple(c for c in CELLS if c in cells))
        for name in ("distance", "steps", "hidden", "batch", "seed"):
            self._check_int(name, getattr(self, name))
        if self.tbptt is not None:
            self._check_int("tbptt", self.tbptt)
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {self.init!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}.")
        for name in ("clip", "sweep"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false.")
        self._check_float("max_norm", self.max_norm)
        if self.lr is not None:
            self._check_float("lr", self.lr)
        if not isinstance(self.symbols, int) or not 2 <= self.symbols <= 16:
            raise ValueError("symbols must be a whole number from 2 to 16.")
        if self.tbptt is not None and self.tbptt >= self.distance:
            raise ValueError(f"Truncation k={self.tbptt} must be shorter than the distance T={self.distance}; "
                             "otherwise it is full BPTT (leave k empty).")
        seconds = self.estimated_seconds()
        if seconds > MAX_SECONDS:
            raise ValueError(f"This experiment would take about {seconds:.0f} s, more than the {MAX_SECONDS:.0f} s "
                             "allowed: use fewer steps, cells or twins, a shorter distance, or turn the sweep off.")

    @staticmethod
    def _check_int(name, value):
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")

    @staticmethod
    def _check_float(name, value):
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}.")

    @classmethod
    def from_dict(cls, data: dict) -> "ExperimentConfig":
        """Build from JSON-like data; unknown keys are an error (a typo should not be silently ignored)."""
        known = {f.name for f in fields(cls)} - {"time_limit"}
        extra = sorted(set(data) - known)
        if extra:
            raise ValueError(f"Unknown setting {extra[0]!r}.")
        values = dict(data)
        if "cells" in values and isinstance(values["cells"], list):
            values["cells"] = tuple(values["cells"])
        return cls(**values)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cells"] = list(self.cells)
        data["lr"] = self.learning_rate
        data.pop("time_limit")
        return data

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def variants(self) -> list[dict]:
        """The runs per cell: the configured one first, then its twins (same seed, one switch flipped)."""
        runs = [{"variant": "main", "clip": self.clip, "tbptt": self.tbptt}]
        if self.clip:
            runs.append({"variant": "unclipped", "clip": False, "tbptt": self.tbptt})
        if self.tbptt is not None:
            runs.append({"variant": "full", "clip": self.clip, "tbptt": None})
        return runs

    def sweep_distances(self) -> list[int]:
        return sweep_distances(self.distance, self.sweep)

    def estimated_seconds(self) -> float:
        return estimated_seconds(self.cells, self.distance, self.steps, self.hidden, self.batch,
                                 len(self.variants()), self.sweep)


class RecallNet(nn.Module):
    """Embedding -> one recurrent layer (fused nn.RNN / nn.LSTM / nn.GRU) -> linear read-out at the last step.

    forward: x (L, B) long -> logits (B, C), read from the hidden state after the last token.
    Truncated BPTT with window k detaches the state k steps before the loss (and every k steps before that),
    so the loss's gradient reaches h_t only for T - t <= k.
    """

    def __init__(self, cell: str, vocab: int, classes: int, hidden: int, init: str = "xavier"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        self.cell = cell
        self.embed = nn.Embedding(vocab, EMBED)
        if cell == "lstm":
            self.rnn = nn.LSTM(EMBED, hidden)
        elif cell == "gru":
            self.rnn = nn.GRU(EMBED, hidden)
        else:
            self.rnn = nn.RNN(EMBED, hidden, nonlinearity=cell.split("_")[1])
        self.head = nn.Linear(hidden, classes)
        self.reset_parameters(init)

    def reset_parameters(self, init: str) -> None:
        gates = {"lstm": 4, "gru": 3}.get(self.cell, 1)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # token vectors of unit-ish size in both schemes
        nn.init.zeros_(self.head.bias)
        for name, w in self.rnn.named_parameters():
            if name.startswith("bias"):
                nn.init.zeros_(w)
            elif init == "naive":
                # What a first attempt often does: unit-variance weights whatever the layer width. The recurrent
                # matrix then has spectral radius ~ sqrt(H), so signals and gradients grow ~sqrt(H) per step.
                nn.init.normal_(w, 0.0, 1.0)
            else:
                # Xavier per gate block: variance 2 / (fan_in + fan_out) keeps each step's signal near unit size.
                for block in w.data.chunk(gates, 0):
                    nn.init.xavier_uniform_(block)
        if self.cell in ("lstm", "gru"):
            # Gates start leaning towards "keep": bias 3 on the LSTM forget gate and the GRU update gate, so each
            # step keeps ~95% of the memory until training says otherwise (Gers et al. 2000; Jozefowicz et al.
            # 2015 use 1, Tallec & Ollivier 2018 argue for ~log T on long tasks). With 1, the LSTM kept ~1e-3 of
            # its gradient over 50 steps and did not learn T = 50 in 300 steps (docs/benchmarks.md). A vanilla
            # RNN has no such knob: its memory path goes through W_hh and the nonlinearity every step.
            # PyTorch gate order: LSTM i, f, g, o; GRU r, z, n.
            h = self.rnn.hidden_size
            self.rnn.bias_ih_l0.data[h:2 * h].fill_(GATE_BIAS)
        if init == "naive":
            nn.init.normal_(self.head.weight, 0.0, 1.0)
        else:
            nn.init.xavier_uniform_(self.head.weight)

    @staticmethod
    def chunk_starts(length: int, k: int | None) -> list[int]:
        """Where truncated BPTT cuts a sequence of `length` tokens: windows of k steps counted back from the
        loss at the last token. k None -> [0] (one window, full BPTT)."""
        if k is None:
            return [0]
        last = length - 1
        return [0] + sorted(t for t in range(last - k, 0, -k))

    @staticmethod
    def _detach(state):
        return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()

    def forward(self, x: torch.Tensor, tbptt: int | None = None) -> torch.Tensor:
        """x (L, B) long -> logits (B, C) read from the last hidden state."""
        emb = self.embed(x)  # (L, B, E)
        starts = self.chunk_starts(x.size(0), tbptt) + [x.size(0)]
        state = None
        for begin, end in zip(starts[:-1], starts[1:]):
            if state is not None:
                state = self._detach(state)  # the truncation: no gradient flows into earlier windows
            out, state = self.rnn(emb[begin:end], state)
        return self.head(out[-1])

    def unrolled(self, x: torch.Tensor, tbptt: int | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Step-by-step forward keeping every hidden state: x (L, B) -> logits (B, C), [h_t (1, B, H)] * L.

        Same arithmetic as forward() (one fused step at a time); each h_t has retain_grad() so after backward
        h_t.grad is ∂L/∂h_t. For the LSTM h_t is the output state; the cell state c_t carries the long path.
        """
        emb = self.embed(x)
        cuts = set(self.chunk_starts(x.size(0), tbptt)[1:])
        state, hs = None, []
        for t in range(x.size(0)):
            if t in cuts:
                state = self._detach(state)
            _, state = self.rnn(emb[t:t + 1], state)
            # The returned state (not the output copy) is what feeds the next step, so its grad is ∂L/∂h_t.
            h = state[0] if isinstance(state, tuple) else state  # (1, B, H)
            h.retain_grad()
            hs.append(h)
        return self.head(hs[-1][0]), hs


def _finite(value: float) -> float | None:
    """JSON has no NaN or Infinity (the browser's JSON.parse rejects them): non-finite numbers become null.
    Five significant digits are plenty for a chart and keep the stored result small."""
    return float(f"{value:.5g}") if math.isfinite(value) else None


def gradient_by_distance(model: RecallNet, x: torch.Tensor, y: torch.Tensor, tbptt: int | None) -> list:
    """Mean over examples of ‖∂L_i/∂h_t‖, indexed by distance d = T - t (d = 0 is the state the loss reads).

    L_i is example i's own cross-entropy (summed loss, so each example's gradient is not divided by B).
    Beyond a truncation window the gradient is exactly zero; zeros and non-finite values become null.
    """
    model.zero_grad(set_to_none=True)
    logits, hs = model.unrolled(x, tbptt)
    F.cross_entropy(logits, y, reduction="sum").backward()
    norms = []
    for h in reversed(hs):
        g = h.grad
        value = float(g[0].double().norm(dim=1).mean()) if g is not None else 0.0  # float64: no overflow
        norms.append(_finite(value) if value > 0 else None)
    model.zero_grad(set_to_none=True)
    return norms


@torch.no_grad()
def accuracy(model: RecallNet, x: torch.Tensor, y: torch.Tensor) -> float | None:
    logits = model(x)
    if not torch.isfinite(logits).all():
        return None
    return float((logits.argmax(-1) == y).float().mean())


class _Clock:
    """Shared deadline, progress throttle and cancellation check for all runs of one experiment."""

    def __init__(self, cfg, total_units, on_progress, should_stop):
        self.start = time.perf_counter()
        self.deadline = self.start + cfg.time_limit - 1.0  # leave a second for the last probes and the reply
        self.total, self.done = max(total_units, 1), 0
        self.on_progress, self.should_stop = on_progress, should_stop
        self.last_report = 0.0
        self.time_limited = False

    def elapsed(self):
        return time.perf_counter() - self.start

    def out_of_time(self):
        if time.perf_counter() > self.deadline:
            self.time_limited = True
        return self.time_limited

    def tick(self, units, **info):
        self.done += units
        if self.should_stop is not None and self.should_stop():
            raise ExperimentStopped("The experiment was cancelled.")
        now = time.perf_counter()
        if self.on_progress is not None and (now - self.last_report > 0.5 or info.get("force")):
            self.last_report = now
            info.pop("force", None)
            self.on_progress({"fraction": round(min(self.done / self.total, 1.0), 3),
                              "elapsed_s": round(self.elapsed(), 2), **info})


def train_run(cfg: ExperimentConfig, cell: str, distance: int, clip: bool, tbptt: int | None, clock: _Clock,
              *, label: str, measure: bool = True) -> dict:
    """Train one model; every run of a cell starts from the same weights and sees the same batches."""
    task = RecallTask(distance, symbols=cfg.symbols, lead=LEAD)
    torch.manual_seed(cfg.seed * 1009 + CELLS.index(cell))
    model = RecallNet(cell, task.vocab_size, cfg.symbols, cfg.hidden, cfg.init)
    data = torch.Generator().manual_seed(cfg.seed * 7919 + 1)
    x_eval, y_eval = task.batch(EVAL_BATCH, torch.Generator().manual_seed(cfg.seed * 7919 + 2))
    x_probe, y_probe = task.batch(PROBE_BATCH, torch.Generator().manual_seed(cfg.seed * 7919 + 3))
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate, momentum=0.9)
    # Sweep runs only need their final accuracy; charted runs are evaluated ~15 times.
    eval_every = max(1, cfg.steps // 15) if measure else cfg.steps
    max_norm = cfg.max_norm if clip else math.inf

    result = {"cell": cell, "clip": clip, "tbptt": tbptt, "label": label, "distance": distance}
    if measure:
        result["grad_by_distance_init"] = gradient_by_distance(model, x_probe, y_probe, tbptt)
    losses, grad_norms, acc_steps, accs = [], [], [0], [accuracy(model, x_eval, y_eval)]
    diverged_at = None
    started = time.perf_counter()
    step = 0
    for step in range(1, cfg.steps + 1):
        if clock.out_of_time():
            step -= 1
            break
        x, y = task.batch(cfg.batch, data)
        loss = F.cross_entropy(model(x, tbptt), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        # The norm before clipping is what we chart: the clipped twin sees the same explosion, but steps safely.
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
        losses.append(_finite(loss.item()))
        grad_norms.append(_finite(norm))
        if losses[-1] is None or grad_norms[-1] is None:
            diverged_at = step  # a NaN/inf step would poison every weight: the run is over
            break
        opt.step()
        if step % eval_every == 0 or step == cfg.steps:
            acc_steps.append(step)
            accs.append(accuracy(model, x_eval, y_eval))
        clock.tick(task.length, run=label, step=step, steps=cfg.steps)
    params_finite = all(torch.isfinite(p).all() for p in model.parameters())
    if diverged_at is None and not params_finite:
        diverged_at = step
    if diverged_at is not None:
        clock.tick((cfg.steps - step) * task.length, run=label, step=step, steps=cfg.steps)
    if diverged_at is None and acc_steps[-1] != step:  # stopped early by the time limit: score where it got to
        acc_steps.append(step)
        accs.append(accuracy(model, x_eval, y_eval))
    final = accs[-1] if diverged_at is None else None
    result.update({
        "steps_run": step, "loss": losses, "grad_norm": grad_norms, "acc_steps": acc_steps, "accuracy": accs,
        "final_accuracy": final, "diverged_at": diverged_at, "seconds": round(time.perf_counter() - started, 3),
    })
    if measure:
        result["grad_by_distance"] = (gradient_by_distance(model, x_probe, y_probe, tbptt) if params_finite
                                      else [None] * task.length)
    return result


def decay_ratio(norms: list, distance: int, near: int = 1, far: int = 50) -> float | None:
    """‖∂L/∂h‖ at distance min(far, T) divided by that at distance `near`: how much of the gradient survives.

    0.0 when no gradient reaches `far` at all (truncated BPTT); None when either norm is unknown (a diverged run).
    """
    far = min(far, distance)
    a, b = norms[near], norms[far]
    if a is None or a == 0:
        return None
    if b is None:
        return 0.0 if all(v is None for v in norms[far:]) and all(v is not None for v in norms[:near + 1]) else None
    return b / a


def run_experiment(cfg: ExperimentConfig, on_progress=None, should_stop=None) -> dict:
    """Run every cell x variant (and the accuracy-vs-T sweep); returns plain lists and numbers only.

    on_progress(dict) receives {"fraction", "elapsed_s", "run", "step", "steps"} about twice a second.
    should_stop() -> True makes it raise ExperimentStopped within one training step.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two cores are shared with other work: one experiment, one thread
    try:
        variants = cfg.variants()
        sweep_ds = [d for d in cfg.sweep_distances() if d != cfg.distance]
        length = cfg.distance + LEAD + 1
        total = len(cfg.cells) * cfg.steps * (len(variants) * length + sum(d + LEAD + 1 for d in sweep_ds))
        clock = _Clock(cfg, total, on_progress, should_stop)
        runs = []
        for cell in cfg.cells:
            for v in variants:
                label = CELL_LABELS[cell]
                label += " · clipped" if v["clip"] else (" · unclipped" if cfg.clip else "")
                label += f" · k={v['tbptt']}" if v["tbptt"] is not None else (" · full BPTT" if cfg.tbptt else "")
                run = train_run(cfg, cell, cfg.distance, v["clip"], v["tbptt"], clock, label=label)
                run["variant"] = v["variant"]
                run["grad_ratio"] = {"near": 1, "far": min(50, cfg.distance),
                                     "init": decay_ratio(run["grad_by_distance_init"], cfg.distance),
                                     "trained": decay_ratio(run["grad_by_distance"], cfg.distance)}
                runs.append(run)

        sweep = {"distances": cfg.sweep_distances(), "steps": cfg.steps, "accuracy": {}}
        main_runs = {r["cell"]: r for r in runs if r["variant"] == "main"}
        for cell in cfg.cells:
            row = []
            for d in sweep["distances"]:
                if d == cfg.distance:
                    row.append(main_runs[cell]["final_accuracy"])
                    continue
                if clock.out_of_time():
                    row.append(None)
                    continue
                k = cfg.tbptt if cfg.tbptt is not None and cfg.tbptt < d else None
                r = train_run(cfg, cell, d, cfg.clip, k, clock, label=f"{CELL_LABELS[cell]} · T={d}", measure=False)
                row.append(r["final_accuracy"])
            sweep["accuracy"][cell] = row
        clock.tick(0, run="done", force=True)
        return {
            "config": cfg.as_dict(),
            "task": {"distance": cfg.distance, "symbols": cfg.symbols, "chance": 1.0 / cfg.symbols,
                     "lead": LEAD, "length": length},
            "labels": {c: CELL_LABELS[c] for c in cfg.cells},
            "runs": runs,
            "sweep": sweep,
            "seconds": round(clock.elapsed(), 3),
            "estimated_seconds": round(cfg.estimated_seconds(), 1),
            "time_limited": clock.time_limited,
            "threads": 1,
        }
    finally:
        torch.set_num_threads(previous_threads)
