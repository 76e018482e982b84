"""The long-range task of the gradient lab: delayed recall.

A sequence starts with a few random distractor tokens (the lead-in), then one of `symbols` tokens, then T - 1
distractors drawn at random, then a query token. At the query the network must say which symbol it saw, T steps
earlier. Nothing in between helps, so the only way to solve it is to carry the symbol in the hidden state for
T steps, and the only way to *learn* that is for the gradient of the loss to reach back T steps.
Chance accuracy is 1 / symbols.

The lead-in matters for exploding networks: in a net whose recurrence amplifies every step, the very first
input is amplified the most and would dominate the final state for free; with noise in front of the symbol,
amplification drowns the symbol instead of carrying it.

Token ids (V = symbols + distractors + 1):
    0 .. symbols-1                       the symbols to remember (also the class labels)
    symbols .. symbols+distractors-1     distractors
    symbols+distractors                  the query token ("which symbol did you see?")

Shapes: inputs are time-major LongTensor (lead + T + 1, B); targets LongTensor (B,).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RecallTask:
    """Delayed recall with distance T between the symbol and the query (T >= 1)."""

    distance: int
    symbols: int = 4
    distractors: int = 4
    lead: int = 4

    def __post_init__(self):
        if self.lead < 0:
            raise ValueError(f"lead must be >= 0, got {self.lead}")
        if self.distance < 1:
            raise ValueError(f"distance must be at least 1, got {self.distance}")
        if self.symbols < 2 or self.distractors < 1:
            raise ValueError(f"need at least 2 symbols and 1 distractor, got {self.symbols}, {self.distractors}")

    @property
    def vocab_size(self) -> int:
        return self.symbols + self.distractors + 1

    @property
    def query_token(self) -> int:
        return self.symbols + self.distractors

    @property
    def length(self) -> int:
        """Tokens per sequence: the lead-in, the symbol, T - 1 distractors, the query."""
        return self.lead + self.distance + 1

    @property
    def chance(self) -> float:
        return 1.0 / self.symbols

    def batch(self, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh batch: inputs (lead + T + 1, B) long, targets (B,) long. Deterministic given the generator."""
        target = torch.randint(0, self.symbols, (size,), generator=generator)
        x = torch.randint(self.symbols, self.symbols + self.distractors, (self.length, size), generator=generator)
        x[self.lead] = target
        x[-1] = self.query_token
        return x, target
