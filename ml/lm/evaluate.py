"""Perplexity of a model directory on a corpus split: exp(mean NLL per token), PTB-standard protocol
(eval batch 10, BPTT window 35, hidden state carried across windows, <eos> tokens counted)."""
from __future__ import annotations

import math
import time
from pathlib import Path

from .checkpoint import load_model_dir
from .corpus import batchify, load_corpus
from .model import quantize_int8
from .train import evaluate


def evaluate_dir(model_dir: str | Path, corpus: str | None = None, split: str = "test",
                 batch_size: int = 10, bptt: int = 35, int8: bool = False) -> dict:
    """-> {"perplexity", "nll", "tokens", "corpus", "split", "model", "int8", "seconds"}. ``corpus`` defaults to
    the model's training corpus; the text is encoded with the model's own vocab. ``int8`` scores the
    quantised copy the web app's suggestions run on."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be train/valid/test, got {split!r}")
    model, vocab, config = load_model_dir(model_dir)
    if int8:
        model = quantize_int8(model)
    name = corpus or config.get("corpus") or "ptb"
    data = load_corpus(name, vocab).ids[split]
    t0 = time.time()
    nll, tokens = evaluate(model, batchify(data, batch_size), bptt)
    return {"perplexity": math.exp(nll), "nll": nll, "tokens": tokens, "corpus": name, "split": split,
            "model": str(model_dir), "int8": int8, "seconds": round(time.time() - t0, 1)}
