"""Word vocabulary built from training captions, plus the caption tokeniser.

Tokenisation: lowercase, drop apostrophes (``dog's`` -> ``dogs``, ``'s`` -> ``s``), every other
non-alphanumeric character separates words. Words seen fewer than ``min_freq`` times in the
training captions map to ``<unk>``; the decoder is never allowed to emit ``<unk>``.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
_SPLIT = re.compile(r"[^a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """``"A dog's ball."`` -> ``["a", "dogs", "ball"]``."""
    return [w for w in _SPLIT.split(text.lower().replace("'", "")) if w]


class Vocab:
    """Bidirectional word <-> id map. Ids 0..3 are ``<pad> <start> <end> <unk>``."""

    def __init__(self, words: Iterable[str], min_freq: int = 1, counts: dict | None = None):
        self.itos: list[str] = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.min_freq = min_freq
        self.counts = counts or {}

    pad_id, start_id, end_id, unk_id = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, captions: Iterable[str], min_freq: int = 5) -> "Vocab":
        """Words with at least ``min_freq`` occurrences, most frequent first (ties alphabetical)."""
        counts = Counter(w for c in captions for w in tokenize(c))
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        return cls(kept, min_freq, {w: counts[w] for w in kept})

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Caption -> ``[<start>, w1..wn, <end>]`` ids (truncated to ``max_len`` words)."""
        words = tokenize(text)[:max_len] if max_len else tokenize(text)
        return [self.start_id] + [self.stoi.get(w, self.unk_id) for w in words] + [self.end_id]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> words, stopping at ``<end>`` and skipping ``<start>``/``<pad>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i not in (self.start_id, self.pad_id):
                out.append(self.itos[i])
        return out

    def to_dict(self) -> dict:
        return {"itos": self.itos, "min_freq": self.min_freq, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        itos = d["itos"]
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"vocab must start with {SPECIALS}, got {itos[:4]}")
        return cls(itos[4:], d.get("min_freq", 1), d.get("counts"))

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False))

    @classmethod
    def load(cls, path) -> "Vocab":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
