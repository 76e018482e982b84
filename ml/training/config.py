"""The settings every trainer shares, spelt once.

A task subclasses :class:`TrainConfig`, adds its own fields and may give shared ones other defaults::

    @dataclass
    class CaptionConfig(TrainConfig):
        epochs: int = 10
        hidden_dim: int = 512             # LSTM width

The comment after a field is its documentation: ml.training.cli shows it as the option's help.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

CONFIG_FILE = "train_config.json"


@dataclass
class TrainConfig:
    """What every training run has, whatever it trains."""
    run_dir: str = ""                 # checkpoints and logs (required), e.g. var/runs/my-model
    export_dir: str = ""              # at the end, also save the best model here as a shipped (float16) model
    resume: bool = False              # continue from <run_dir>/last (a fresh run refuses a used run_dir)
    init_from: str = ""               # warm start: a model directory whose weights a fresh run starts from
    epochs: int = 10
    patience: int = 3                 # stop after this many epochs without a better validation score
    lr: float = 1e-3
    clip: float = 5.0                 # max global gradient norm
    time_budget_min: float = 0.0      # stop resumably after this many minutes of this invocation (0 = none)
    checkpoint_minutes: float = 5.0   # also save last/ this often inside an epoch
    log_every: int = 10               # steps between progress events
    threads: int = 0                  # torch threads (0 = torch's default)
    bf16: bool = False                # bf16 autocast for training, on CPUs with native bf16 (else a warning)
    seed: int = 0
    command: str = ""                 # the command line that started the run, kept in metrics.json

    def validate(self):
        """Raise ValueError for a setting no run can use; returns self."""
        checks = [
            (bool(self.run_dir), "run_dir is required"),
            (self.epochs >= 0, "epochs must be >= 0"),
            (self.patience >= 1, "patience must be >= 1"),
            (self.lr > 0, "lr must be > 0"),
            (self.clip > 0, "clip must be > 0"),
            (self.time_budget_min >= 0, "time_budget_min must be >= 0 (0 = none)"),
            (self.threads >= 0, "threads must be >= 0 (0 = torch's default)"),
            (self.log_every >= 1, "log_every must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    @classmethod
    def from_dict(cls, values: dict):
        """A config from a dict; unknown keys are an error (a misspelt setting must not be ignored)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}")
        return cls(**values)

    def save(self, run_dir: str | Path) -> None:
        Path(run_dir, CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def saved(cls, run_dir: str | Path) -> dict:
        """The settings a run directory was last started with ({} for a new one)."""
        path = Path(run_dir, CONFIG_FILE)
        return json.loads(path.read_text()) if path.is_file() else {}
