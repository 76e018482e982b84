"""Train a forecaster on one series with the shared ml.training core.

    from ml.forecast.train import ForecastConfig, train
    result = train(ForecastConfig(series="co2", horizon=52, run_dir="var/runs/forecast-co2-lstm"))

The series is split by time (ml.forecast.data.split): windows ending in the training part teach the network,
windows whose targets fall in the validation part choose the epoch (early stopping on their MAE), and the test
part is never read here. Epoch 0 is the untrained network, which forecasts "no change" (the naive forecast), so a
network that learns nothing better on validation stays exactly as good as the naive forecast. best/ keeps the best epoch; with ``export_dir`` it is saved there as float16 at the end.
"""
from __future__ import annotations

import copy
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..training.config import TrainConfig
from ..training.run import EARLY_STOPPED, FINISHED, Run
from . import checkpoint
from .data import SeriesError, builtin, default_context, read_csv, split, step_scale, windows
from .forecaster import predict
from .model import CELLS, ModelConfig, RecurrentForecaster, quantile_loss


@dataclass
class ForecastConfig(TrainConfig):
    """Every knob of a forecaster run."""
    series: str = ""                  # a built-in series (ml.forecast.data.BUILTIN)...
    csv: str = ""                     # ...or a CSV file (a date or position column and a numeric column)
    column: str = ""                  # the CSV's value column (default: its only numeric one)
    name: str = ""                    # the CSV series' name (default: the file's name without .csv)
    horizon: int = 1                  # steps forecast at once
    season: int = -1                  # steps per seasonal cycle (-1 = the series' own, 0 = none)
    context: int = 0                  # past steps the network reads (0 = two seasons or twice the horizon, >= 32)
    cell: str = "lstm"                # rnn, lstm or gru
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.1
    coverage: float = 0.9             # the prediction interval's nominal coverage
    min_gain: float = 0.03            # leave the naive start only for a validation MAE this share below its own
    ema: float = 0.98                 # validate and keep an exponential average of the weights (0 = off)
    test_share: float = 0.2           # the last part, never read in training
    val_share: float = 0.15           # of what is left: the part that chooses the epoch
    batch_size: int = 64
    weight_decay: float = 1e-4
    epochs: int = 3000                # a ceiling: early stopping or the time budget ends a run first
    patience: int = 30
    lr: float = 3e-3
    clip: float = 1.0
    time_budget_min: float = 2.0
    slot: str = ""                    # the registry slot (default <series>-<cell>)
    label: str = ""

    def validate(self) -> "ForecastConfig":
        super().validate()
        checks = [
            (bool(self.series) != bool(self.csv), "give a built-in series or a CSV file, one of them"),
            (self.cell in CELLS, f"cell must be one of {', '.join(CELLS)}"),
            (1 <= self.horizon <= 365, "horizon must be 1 to 365 steps"),
            (self.season >= -1, "season must be -1 (the series' own), 0 (none) or a number of steps"),
            (self.context >= 0, "context must be >= 0 (0 = automatic)"),
            (0 < self.test_share < 0.5 and 0 < self.val_share < 0.5, "test_share and val_share must be in (0, 0.5)"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 <= self.min_gain < 1, "min_gain must be in [0, 1)"),
            (0 <= self.ema < 1, "ema must be in [0, 1)"),
            (self.batch_size >= 1 and self.hidden >= 1 and self.layers >= 1, "sizes must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def load_series(cfg: ForecastConfig):
    if cfg.series:
        series = builtin(cfg.series)
    else:
        series = read_csv(Path(cfg.csv).read_bytes(), column=cfg.column, name=cfg.name or Path(cfg.csv).stem)
    if cfg.season >= 0:
        series.season = cfg.season
    return series


def fit_origins(parts, context: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(training origins, validation origins): each window's targets inside its own part."""
    first = min(context - 1, max(0, (parts.train_end - horizon) // 3))
    train = np.arange(first, parts.train_end - horizon)
    val = np.arange(parts.train_end - 1, parts.fit_end - horizon)
    if len(train) < 20 or len(val) < 1:
        raise SeriesError(f"too short for a {horizon}-step horizon: {parts.n} points leave {len(train)} training "
                          f"windows and {len(val)} validation windows (need 20 and 1)")
    return train, val


def ema_decay(step: int, ema: float) -> float:
    """The averaging rate at ``step``: short at first, so the average follows the network out of its naive start
    instead of dragging it for hundreds of steps (a small series has two or three steps an epoch)."""
    return min(ema, (1 + step) / (10 + step))


class Trainer:
    def __init__(self, cfg: ForecastConfig, run: Run):
        self.cfg, self.run = cfg, run
        self.series = load_series(cfg)
        values = self.series.values
        self.parts = split(len(values), cfg.test_share, cfg.val_share)
        self.scale = step_scale(values[:self.parts.train_end])
        context = cfg.context or default_context(cfg.horizon, self.series.season)
        self.train_origins, self.val_origins = fit_origins(self.parts, context, cfg.horizon)
        inputs, targets = windows(values, self.train_origins, context, cfg.horizon, self.scale)
        self.inputs, self.targets = torch.from_numpy(inputs), torch.from_numpy(targets)
        self.model = RecurrentForecaster(ModelConfig(horizon=cfg.horizon, context=context, cell=cfg.cell,
                                                     hidden=cfg.hidden, layers=cfg.layers, dropout=cfg.dropout,
                                                     coverage=cfg.coverage))
        tail = (1 - cfg.coverage) / 2          # the naive forecast's errors are the training windows' changes
        self.model.start_interval(-torch.quantile(self.targets, tail, dim=0),
                                  torch.quantile(self.targets, 1 - tail, dim=0))
        # The average of the weights over the last ~1/(1 - ema) steps is what is validated and kept: on a small,
        # noisy series it forecasts better than the weights of any one step.
        self.average = copy.deepcopy(self.model).eval() if cfg.ema else None
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.state = {"epoch": 0, "step": 0, "best": None, "best_epoch": None, "bad_epochs": 0, "history": []}
        if run.resuming:
            self.state, extra = run.load_last(self.optimizer)
            model, _ = checkpoint.load_model(run.last)
            self.model.load_state_dict(model.state_dict())
            if self.average is not None:
                self.average.load_state_dict({**self.model.state_dict(), **(extra or {})})

    def scored_model(self) -> RecurrentForecaster:
        return self.average if self.average is not None else self.model

    def info(self) -> dict:
        s = self.series
        return {"scale": self.scale,
                "series": {"name": s.name, "title": s.title, "unit": s.unit, "frequency": s.frequency,
                           "season": s.season, "kind": s.kind, "n": len(s), "column": self.cfg.column},
                "split": asdict(self.parts)}

    def manifest(self) -> dict:
        return checkpoint.make_manifest(self.series.name, self.series.title, self.cfg.cell, self.cfg.slot,
                                        self.cfg.label)

    def write(self, directory: Path, name: str, metrics: dict, model: RecurrentForecaster | None = None) -> None:
        checkpoint.write_model_files(directory, model or self.model, self.info(), self.manifest(), metrics,
                                     name=name)
        if self.cfg.csv:      # the model keeps its series, so it can forecast (and be judged) without the upload
            shutil.copyfile(self.cfg.csv, directory / "series.csv")

    def epoch(self) -> float:
        self.model.train()
        order = torch.randperm(len(self.inputs))
        losses = []
        for start in range(0, len(order), self.cfg.batch_size):
            index = order[start:start + self.cfg.batch_size]
            loss = quantile_loss(self.model(self.inputs[index]), self.targets[index], self.model.cfg.quantiles)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
            self.optimizer.step()
            if self.average is not None:
                decay = ema_decay(self.state["step"], self.cfg.ema)
                with torch.no_grad():
                    for mine, avg in zip(self.model.parameters(), self.average.parameters()):
                        avg.lerp_(mine, 1 - decay)
            losses.append(loss.item())
            self.state["step"] += 1
        return float(np.mean(losses))

    def validate(self) -> dict:
        values = self.series.values
        forecast = predict(self.scored_model(), values, self.val_origins, self.scale)
        truth = values[self.val_origins[:, None] + np.arange(1, self.cfg.horizon + 1)[None, :]]
        return {"mae": round(float(np.mean(np.abs(forecast.median - truth))), 6),
                "coverage": round(float(np.mean((truth >= forecast.lower) & (truth <= forecast.upper))), 4)}

    def end_epoch(self, loss: float) -> bool:
        """Validate, keep the best, log -> True when early stopping triggers."""
        st = self.state
        val = self.validate()
        # Epoch 0 is the naive forecast. On a price series every later epoch's "gain" over it is noise that the
        # test years need not repeat, so the network must beat it by a margin before it is kept instead.
        bar = st["best"] * (1 - self.cfg.min_gain) if st["best_epoch"] == 0 else st["best"]
        improved = st["best"] is None or val["mae"] < bar
        if improved:
            st.update(best=val["mae"], best_epoch=st["epoch"], bad_epochs=0)
            metrics = {"val": val, "epoch": st["epoch"], "elapsed_s": round(self.run.elapsed_s(), 1),
                       "command": self.cfg.command, "train_config": asdict(self.cfg)}
            with checkpoint.atomic_dir(self.run.best) as tmp:
                self.write(tmp, "best", metrics, self.scored_model())
        else:
            st["bad_epochs"] += 1
        entry = {"epoch": st["epoch"], "loss": round(loss, 6) if loss == loss else None, "val": val, "elapsed_s": round(self.run.elapsed_s(), 2)}
        st["history"].append(entry)
        self.run.emit("epoch", epoch=st["epoch"], epochs=self.cfg.epochs, step=st["step"], loss=entry["loss"],
                      val=val, val_mae=val["mae"], improved=improved, best=st["best"], best_epoch=st["best_epoch"],
                      elapsed_s=entry["elapsed_s"])
        return st["bad_epochs"] >= self.cfg.patience

    def save_last(self) -> None:
        extra = {name: p.detach() for name, p in self.average.named_parameters()} if self.average else None
        self.run.save_last(lambda d: self.write(d, "last", {"history": self.state["history"]}), self.optimizer,
                           self.state, extra)


def train(cfg: ForecastConfig, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> dict:
    """Train (or, with ``cfg.resume``, continue) a forecaster in ``cfg.run_dir``; returns the done event.

    Epoch events carry ``val`` {mae, coverage} (series units), ``improved``, ``best`` and ``best_epoch``.
    """
    run = Run(cfg, on_progress, should_stop)
    t = Trainer(cfg, run)
    st = t.state
    if not run.resuming:
        t.end_epoch(float("nan"))   # epoch 0, the untrained network: exactly the naive forecast, the first bar
    status = None
    while st["epoch"] < cfg.epochs and status is None:
        if status := run.interrupted():
            t.save_last()
            break
        loss = t.epoch()
        st["epoch"] += 1
        if t.end_epoch(loss):
            status = EARLY_STOPPED
        elif run.checkpoint_due():
            t.save_last()
    return run.finish(status or FINISHED, export=export_best, epoch=st["epoch"], step=st["step"], best=st["best"],
                      best_epoch=st["best_epoch"])


def export_best(best_dir, export_dir) -> Path:
    """Re-save a (float32) run model as a float16 model directory."""
    model, config = checkpoint.load_model(best_dir)
    metrics = json.loads((Path(best_dir) / "metrics.json").read_text())
    manifest = {k: v for k, v in config["manifest"].items() if k not in ("name", "files")}
    info = {k: config[k] for k in ("scale", "series", "split")}
    extra = [Path(best_dir) / "series.csv"] if (Path(best_dir) / "series.csv").exists() else []
    return checkpoint.save_model(export_dir, model, info, manifest, metrics, extra_files=extra)
