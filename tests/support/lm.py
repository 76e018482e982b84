"""Tiny deterministic corpora and models for tests and demos (no files, no network)."""
from __future__ import annotations

import random

import torch

from ml.lm.corpus import Corpus, lines_to_tokens
from ml.lm.tokenizer import Vocab

_SUBJECTS = ["the cat", "a dog", "the market", "my friend", "the company"]
_VERBS = ["sat on", "looked at", "bought", "sold", "liked"]
_OBJECTS = ["the mat", "a house", "the stock", "some shares", "the red car"]


def tiny_lines(n: int = 300, seed: int = 0) -> list[str]:
    """Grammar-like sentences with learnable structure, so a working model's loss falls fast."""
    rng = random.Random(seed)
    return [f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}" for _ in range(n)]


def tiny_corpus(n: int = 300, seed: int = 0) -> Corpus:
    splits = {"train": tiny_lines(n, seed), "valid": tiny_lines(n // 5, seed + 1),
              "test": tiny_lines(n // 5, seed + 2)}
    vocab = Vocab.build(lines_to_tokens(splits["train"]))
    ids = {s: torch.tensor(vocab.encode(lines_to_tokens(v, vocab))) for s, v in splits.items()}
    return Corpus("tiny", vocab, ids, "tiny synthetic corpus")
