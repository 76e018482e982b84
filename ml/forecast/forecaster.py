"""A loaded forecaster, ready to serve: a series in, the forecast with its interval out.

    f = Forecaster.from_dir("models/forecast-co2-lstm")
    f.forecast(values, horizon=30)     # {"median": [...], "lower": [...], "upper": [...]} in the series' units
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .baselines import Forecasts
from .data import windows
from .model import RecurrentForecaster


@torch.inference_mode()
def predict(model: RecurrentForecaster, values: np.ndarray, origins: np.ndarray, scale: float,
            batch: int = 1024) -> Forecasts:
    """Forecasts from each origin, in the series' units: (N, H) median, lower and upper."""
    model.eval()
    outputs = []
    for start in range(0, len(origins), batch):
        inputs, _ = windows(values, origins[start:start + batch], model.cfg.context, model.cfg.horizon, scale,
                            with_targets=False)
        outputs.append(model(torch.from_numpy(inputs)).numpy())
    out = np.concatenate(outputs).astype(np.float64) * scale + values[origins][:, None, None]
    return Forecasts(out[..., 1], out[..., 0], out[..., 2])


class Forecaster:
    def __init__(self, model: RecurrentForecaster, config: dict, directory: str = ""):
        self.model, self.config, self.directory = model, config, directory
        self.scale = float(config["scale"])

    @classmethod
    def from_dir(cls, directory: str | Path) -> "Forecaster":
        model, config = checkpoint.load_model(directory)
        return cls(model, config, str(directory))

    @property
    def horizon(self) -> int:
        return self.model.cfg.horizon

    def forecast(self, values, horizon: int | None = None) -> dict:
        """The next ``horizon`` (at most the model's) values after the end of ``values``."""
        horizon = horizon or self.horizon
        if not 1 <= horizon <= self.horizon:
            raise ValueError(f"this model forecasts 1 to {self.horizon} steps ahead, not {horizon}")
        values = np.asarray(values, dtype=np.float64)
        result = predict(self.model, values, np.array([len(values) - 1]), self.scale)
        return {key: [round(float(v), 6) for v in getattr(result, key)[0, :horizon]]
                for key in ("median", "lower", "upper")}
