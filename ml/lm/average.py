"""Average the weights of model directories of one architecture ("model soup", SWA across runs).

Two checkpoints of one training trajectory (a model and its own fine-tune) sit in one basin of the loss, and
the point between them is often lower than either end: averaging is a free improvement to try before
spending another epoch of CPU.

    python -m ml.lm.average models/lm-ptb-lstm var/runs/ptb-lstm-v4/best --out var/runs/ptb-lstm-soup
    python -m ml.lm.average A B --weights 0.7 0.3 --out DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from . import checkpoint as ckpt

def average_model_dirs(dirs: list[str | Path], weights: list[float] | None = None):
    """-> (model with the weighted mean of the float parameters, vocab, config of the first dir).

    ``weights`` default to equal; they are normalised to sum to 1. Raises ValueError when the directories
    differ in architecture or vocabulary.
    """
    if len(dirs) < 2:
        raise ValueError("averaging needs at least two model directories")
    weights = weights or [1.0] * len(dirs)
    if len(weights) != len(dirs) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("give one non-negative weight per directory, not all zero")
    total = sum(weights)
    loaded = [ckpt.load_model_dir(d) for d in dirs]
    base, vocab, config = loaded[0]
    for d, (model, other_vocab, _) in zip(dirs[1:], loaded[1:]):
        if not ckpt.same_shape(model, other_vocab, base, vocab):
            raise ValueError(f"{d}: architecture or vocabulary differs from {dirs[0]}")
    states = [m.state_dict() for m, _, _ in loaded]
    mean = {k: sum(s[k].double() * (w / total) for s, w in zip(states, weights)).to(v.dtype)
            if v.is_floating_point() else v for k, v in states[0].items()}
    base.load_state_dict(mean)
    return base, vocab, config


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", help="model directories (same architecture and vocabulary)")
    ap.add_argument("--weights", nargs="+", type=float, default=None)
    ap.add_argument("--out", required=True, help="model directory to write (float32)")
    args = ap.parse_args(argv)
    model, vocab, config = average_model_dirs(args.dirs, args.weights)
    metrics = {"averaged_from": [str(d) for d in args.dirs],
               "average_weights": args.weights or [1.0] * len(args.dirs)}
    for key in ("format", "kind", "model"):
        config.pop(key, None)
    ckpt.save_model_dir(args.out, model, vocab, config, metrics)
    print(f"wrote {args.out}: mean of {len(args.dirs)} models")


if __name__ == "__main__":
    main()
