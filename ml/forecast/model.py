"""The forecaster: a recurrent network reads a window of past values and writes the whole forecast at once.

Shapes: B windows, L context steps, F input features, H horizon, Q = 3 outputs per step (the interval's lower
bound, the median, the upper bound).

    inputs (B, L, F) --RNN/LSTM/GRU--> last state (B, D) --linear--> (B, H, 3)

Every step of the horizon comes from the last state directly (no feeding forecasts back in, so errors do not
compound and training is one pass). The median is trained with the absolute error (it is what MAE rewards); the
bounds are the ``(1 - coverage) / 2`` and ``(1 + coverage) / 2`` quantiles, trained with the pinball loss, and
built as the median minus / plus a positive width so they never cross it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class ModelConfig:
    horizon: int
    context: int
    cell: str = "lstm"
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0          # between stacked layers and before the head
    features: int = 1
    coverage: float = 0.9         # the prediction interval's nominal coverage

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if not 0 < self.coverage < 1:
            raise ValueError("coverage must be between 0 and 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def quantiles(self) -> tuple[float, float, float]:
        tail = (1 - self.coverage) / 2
        return tail, 0.5, 1 - tail


class RecurrentForecaster(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        extra = {"nonlinearity": "tanh"} if cfg.cell == "rnn" else {}
        self.rnn = CELLS[cfg.cell](cfg.features, cfg.hidden, cfg.layers, batch_first=True,
                                   dropout=cfg.dropout if cfg.layers > 1 else 0.0, **extra)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, cfg.horizon * 3)
        nn.init.zeros_(self.head.weight)   # start at "no change": the naive forecast (see start_interval)
        nn.init.zeros_(self.head.bias)

    @torch.no_grad()
    def start_interval(self, below: torch.Tensor, above: torch.Tensor) -> None:
        """Start the bounds at ``below`` / ``above`` (H,) under and over the median (positive, input units): the
        naive forecast's own spread, so the untrained network is the naive forecast interval and all."""
        bias = self.head.bias.view(self.cfg.horizon, 3)
        for column, width in ((0, below), (2, above)):
            width = width.clamp_min(1e-3)
            bias[:, column] = width + torch.log(-torch.expm1(-width))       # softplus⁻¹(width), stable

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, L, F) -> (B, H, 3): lower, median, upper, in the units of the inputs."""
        out, _ = self.rnn(x)
        raw = self.head(self.drop(out[:, -1])).view(x.size(0), self.cfg.horizon, 3)
        median = raw[..., 1]
        lower = median - F.softplus(raw[..., 0])
        upper = median + F.softplus(raw[..., 2])
        return torch.stack([lower, median, upper], dim=-1)


def quantile_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: tuple[float, float, float]) -> torch.Tensor:
    """Mean pinball loss of pred (B, H, 3) against target (B, H); at q = 0.5 it is half the absolute error."""
    q = torch.tensor(quantiles, dtype=pred.dtype, device=pred.device)
    error = target.unsqueeze(-1) - pred
    return torch.maximum(q * error, (q - 1) * error).mean()
