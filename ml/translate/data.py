"""Parallel text: Multi30k splits or any two aligned files, sentencepiece subwords and length-bucketed batches.

A sentence pair becomes ``(source ids + [EOS], [BOS] + target ids, target ids + [EOS])``. Each side has its own
sentencepiece model, trained on the training split only, with the ids every model shares::

    PAD = 0, UNK = 1, BOS = 2, EOS = 3
"""
from __future__ import annotations

import gzip
import io
import os
import random
from pathlib import Path

import sentencepiece as spm
import torch

PAD, UNK, BOS, EOS = 0, 1, 2, 3
LANGUAGES = ("en", "de", "fr", "cs")
SPLITS = ("train", "val", "test_2016_flickr")


def default_multi30k_dir() -> Path:
    """``$MULTI30K_DIR``, else ../shared/data/multi30k beside the checkout."""
    if os.environ.get("MULTI30K_DIR"):
        return Path(os.environ["MULTI30K_DIR"])
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "multi30k"


def read_lines(path: str | Path) -> list[str]:
    """A UTF-8 text file (gzip-compressed when its name ends in .gz), one sentence a line, stripped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [line.strip() for line in f]


def multi30k_pairs(split: str, source: str, target: str, root: str | Path | None = None) -> list[tuple[str, str]]:
    """Aligned (source, target) sentences of one Multi30k split."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = Path(root or default_multi30k_dir())
    src, tgt = (read_lines(root / f"{split}.{lang}.gz") for lang in (source, target))
    if len(src) != len(tgt):
        raise ValueError(f"{split}: {len(src)} {source} lines but {len(tgt)} {target} lines")
    return list(zip(src, tgt))


def read_aligned(source: str | Path, target: str | Path) -> list[tuple[str, str]]:
    """Two line-aligned files -> pairs; their line counts must agree."""
    src, tgt = read_lines(source), read_lines(target)
    if len(src) != len(tgt):
        raise ValueError(f"{len(src)} source lines but {len(tgt)} target lines")
    return list(zip(src, tgt))


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """A tab-separated file, ``source<TAB>target`` on each line (blank lines skipped) -> pairs."""
    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line:
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            raise ValueError(f"line {number} has {len(columns)} tab-separated columns, not 2")
        pairs.append((columns[0].strip(), columns[1].strip()))
    return pairs


class Subwords:
    """One language's sentencepiece model: text <-> ids, kept as the model's serialized bytes (no pickle)."""

    def __init__(self, model_proto: bytes):
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(cls, sentences: list[str], vocab_size: int) -> "Subwords":
        """A unigram model of ``vocab_size`` pieces (the four shared ids included) learnt from ``sentences``."""
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buffer, vocab_size=vocab_size, model_type="unigram",
            character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            minloglevel=2, hard_vocab_limit=False, num_threads=1)
        return cls(buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "Subwords":
        return cls(Path(path).read_bytes())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.proto)

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text, out_type=int)

    def pieces(self, ids: list[int]) -> list[str]:
        """Pieces as the page shows them: sentencepiece's word-start mark ▁ kept, so words can be rebuilt."""
        return [self.sp.id_to_piece(i) for i in ids]

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode([i for i in ids if i > EOS])


class ParallelData:
    """Encoded pairs of one split: ``src[i]`` ends with EOS; ``tgt[i]`` has neither BOS nor EOS."""

    def __init__(self, pairs: list[tuple[str, str]], src_sw: Subwords, tgt_sw: Subwords, max_tokens: int = 0):
        self.pairs = pairs
        self.src = [src_sw.encode(s) + [EOS] for s, _ in pairs]
        self.tgt = [tgt_sw.encode(t) for _, t in pairs]
        if max_tokens:    # training only: a very long pair costs a lot and teaches little
            keep = [i for i in range(len(pairs)) if len(self.src[i]) <= max_tokens and len(self.tgt[i]) < max_tokens]
            self.pairs = [pairs[i] for i in keep]
            self.src = [self.src[i] for i in keep]
            self.tgt = [self.tgt[i] for i in keep]

    def __len__(self) -> int:
        return len(self.src)

    def batches(self, batch_size: int, seed: int | None = None) -> list[list[int]]:
        """Index lists of about ``batch_size`` pairs of similar source length (little padding). With a seed the
        order within length ties and of the batches is shuffled; without one it is fixed (validation)."""
        rng = random.Random(seed)
        jitter = (lambda: rng.random()) if seed is not None else (lambda: 0.0)
        order = sorted(range(len(self)), key=lambda i: (len(self.src[i]) + jitter(), len(self.tgt[i])))
        batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
        if seed is not None:
            rng.shuffle(batches)
        return batches

    def tensors(self, index: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> source (B, S), source lengths (B,), decoder input (B, T) = BOS + target, decoder output (B, T) =
        target + EOS; PAD fills the rest."""
        return pad_sources([self.src[i] for i in index]) + pad_targets([self.tgt[i] for i in index])


def pad_sources(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in seqs])
    src = torch.full((len(seqs), int(lengths.max())), PAD, dtype=torch.long)
    for row, s in enumerate(seqs):
        src[row, :len(s)] = torch.tensor(s)
    return src, lengths


def pad_targets(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(s) for s in seqs) + 1
    inputs = torch.full((len(seqs), longest), PAD, dtype=torch.long)
    outputs = torch.full((len(seqs), longest), PAD, dtype=torch.long)
    for row, s in enumerate(seqs):
        inputs[row, :len(s) + 1] = torch.tensor([BOS] + s)
        outputs[row, :len(s) + 1] = torch.tensor(s + [EOS])
    return inputs, outputs
