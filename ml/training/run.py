"""One invocation of a trainer: its run directory, progress events, stop checks and resumable checkpoints.

A task's ``train()`` reads::

    run = Run(cfg, on_progress, should_stop)        # validates cfg, seeds, sets threads, checks run_dir
    state = {"epoch": 0, "step": 0, ...}
    if run.resuming:
        state, extra_tensors = run.load_last(optimizer)   # then load the weights from run.last
    while state["epoch"] < cfg.epochs:
        for batch in ...:
            ...one optimisation step...
            if status := run.interrupted():         # stop asked for, or time budget spent
                run.save_last(write_model, optimizer, state)
                return run.finish(status, ...)
            if run.checkpoint_due():
                run.save_last(write_model, optimizer, state)
        ...validate, keep best/, early stopping...
    return run.finish(FINISHED, export=..., ...)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from ..cpu import effective_bf16
from .checkpoint import (atomic_dir, load_optimizer_state, optimizer_state, read_json, rng_state, seed_everything,
                         set_rng_state, write_json)
from .config import TrainConfig

# Final statuses: the "status" of the done event and of the dict train() returns.
FINISHED = "finished"               # every epoch ran
EARLY_STOPPED = "early_stopped"     # validation stopped improving for `patience` epochs
TARGET_REACHED = "target_reached"   # the validation score reached the requested target
CANCELLED = "cancelled"             # should_stop() said so; last/ is saved, resume continues
TIME_BUDGET = "time_budget"         # time_budget_min spent; last/ is saved, resume continues
DIVERGED = "diverged"               # the loss became infinite or NaN
STATUSES = (FINISHED, EARLY_STOPPED, TARGET_REACHED, CANCELLED, TIME_BUDGET, DIVERGED)
EXPORTED = (FINISHED, EARLY_STOPPED, TARGET_REACHED, TIME_BUDGET)   # ends whose best model is exported

# Progress events: dict["event"] of every on_progress call.
EVENTS = (
    "features",   # preparing data (e.g. caching image features): done, total
    "resumed",    # continuing from last/: epoch, step
    "step",       # every log_every steps: epoch, step, total_steps, loss, lr, elapsed_s, ...
    "epoch",      # after each validation: epoch, step, total_steps, loss, best, elapsed_s, the task's scores
    "warning",    # a setting was overridden or a result needs care: message
    "done",       # last: status, epoch, step, best, elapsed_s, run_dir, best_dir, export_dir, ...
)

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


class Run:
    """What every training run shares; the task's train() owns the model, the data and the loop."""

    def __init__(self, cfg: TrainConfig, on_progress: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None):
        self.cfg = cfg.validate()
        self.dir = Path(cfg.run_dir)
        self.last, self.best = self.dir / "last", self.dir / "best"
        if self.last.exists() and not cfg.resume:
            raise ValueError(f"{self.dir} holds a run already: resume it or choose another run directory")
        self.resuming = cfg.resume and (self.last / STATE_JSON).is_file()
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg.save(self.dir)
        self.on_progress = on_progress or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.started = self._saved_at = time.monotonic()
        self.elapsed_before = 0.0       # training time of earlier invocations, set by load_last()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.bf16, warning = effective_bf16(cfg.bf16)
        if warning:
            self.emit("warning", message=warning)

    def emit(self, event: str, **values) -> None:
        self.on_progress({"event": event, **values})

    def elapsed_s(self) -> float:
        """Training time of this run so far, earlier invocations included."""
        return self.elapsed_before + time.monotonic() - self.started

    def invocation_s(self) -> float:
        """Seconds since this invocation started (what time_budget_min limits)."""
        return time.monotonic() - self.started

    def interrupted(self) -> str | None:
        """CANCELLED or TIME_BUDGET when the loop must stop now, else None. Cheap: call it every step."""
        if self.should_stop():
            return CANCELLED
        if self.cfg.time_budget_min and self.invocation_s() > self.cfg.time_budget_min * 60:
            return TIME_BUDGET
        return None

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._saved_at > self.cfg.checkpoint_minutes * 60

    def save_last(self, write_model: Callable[[Path], None], optimizer: torch.optim.Optimizer, state: dict,
                  tensors: dict[str, torch.Tensor] | None = None) -> None:
        """Replace last/ with ``write_model(dir)``'s model directory plus the optimizer, RNG, ``tensors``
        (e.g. averaged weights) and the JSON-able loop ``state``."""
        opt_tensors, opt_scalars = optimizer_state(optimizer)
        rng_tensors, rng_scalars = rng_state()
        with atomic_dir(self.last) as tmp:
            write_model(tmp)
            save_file({**{f"optimizer.{k}": v for k, v in opt_tensors.items()},
                       **{f"rng.{k}": v for k, v in rng_tensors.items()},
                       **{f"extra.{k}": v.contiguous() for k, v in (tensors or {}).items()}},
                      str(tmp / STATE_TENSORS))
            write_json(tmp / STATE_JSON, {"loop": state, "elapsed_s": self.elapsed_s(), "optimizer": opt_scalars,
                                          "rng": rng_scalars})
        self._saved_at = time.monotonic()

    def load_last(self, optimizer: torch.optim.Optimizer) -> tuple[dict, dict[str, torch.Tensor]]:
        """Restore the optimizer and RNG from last/ -> (loop state, extra tensors). The task loads its model's
        weights from ``run.last`` (its model directory) itself."""
        saved = read_json(self.last / STATE_JSON)
        tensors = load_file(str(self.last / STATE_TENSORS))
        part = {prefix: {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
                for prefix in ("optimizer.", "rng.", "extra.")}
        load_optimizer_state(optimizer, part["optimizer."], saved["optimizer"])
        set_rng_state(part["rng."], saved["rng"])
        self.elapsed_before = saved["elapsed_s"]
        state = saved["loop"]
        self.emit("resumed", epoch=state["epoch"], step=state["step"])
        return state, part["extra."]

    def finish(self, status: str, export: Callable[[Path, Path], object] | None = None, **result) -> dict:
        """Export best/ to ``cfg.export_dir`` with ``export(best_dir, export_dir)`` when the run ended well and
        an export was asked for; emit and return the done event (``result`` adds the task's figures)."""
        best_dir = self.best if (self.best / "config.json").is_file() else None
        export_dir = None
        if export and best_dir and self.cfg.export_dir and status in EXPORTED:
            export_dir = Path(self.cfg.export_dir)
            export(best_dir, export_dir)
        done = {"status": status, **result, "elapsed_s": round(self.elapsed_s(), 1), "run_dir": str(self.dir),
                "best_dir": str(best_dir) if best_dir else None, "export_dir": str(export_dir) if export_dir else None}
        self.emit("done", **done)
        return done
