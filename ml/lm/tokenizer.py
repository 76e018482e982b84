"""One tokenizer for corpora and user prompts, plus the Vocab that maps tokens to ids.

Rules (applied in order), chosen so Penn Treebank text (Mikolov's preprocessing:
lower case, numbers as ``N``, no punctuation, ``<unk>`` for rare words) maps to itself:

1. Unicode NFKC normalisation; curly quotes/apostrophes become ASCII; control characters
   (other than newline) become spaces.
2. Each newline ends a sentence: it becomes ``<eos>`` (only when ``newline_eos``).
3. Lower case, except the literal tokens ``N``, ``<unk>`` and ``<eos>``.
4. Split on whitespace. For each chunk: keep it whole if the vocab knows it (``mr.``, ``u.s.``,
   ``'s``, ``o'er``); else split off leading/trailing punctuation and English clitics
   (``don't`` -> ``do n't``, ``market's`` -> ``market 's``), keeping abbreviations such as ``u.s.``.
5. Numbers (``12``, ``3.5``, ``1,000``, ``1/2``, ``-4``, ``2nd``) become ``N`` unless the vocab knows them (PTB keeps ``20th``).
6. With a vocab, unknown words become ``<unk>``; punctuation-only tokens the vocab does not
   know are dropped (PTB has no commas), except sentence ends (``. ! ?``), which become ``<eos>``
   when the vocab has no full stop: ``Prices fell. Investors`` -> ``prices fell <eos> investors``.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

UNK, EOS, NUM = "<unk>", "<eos>", "N"
SPECIALS = (UNK, EOS)

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                         "\u2013": "-", "\u2014": " -- ", "\u2026": "...", "\u00a0": " "})
_NUMBER = re.compile(r"^[+-]?(\d+([.,/:]\d+)*|\.\d+)(st|nd|rd|th)?$")
_ABBREV = re.compile(r"^([a-z]\.)+[a-z]?\.?$|^(mr|mrs|ms|dr|st|jr|sr|inc|corp|co|ltd|vs|jan|feb|mar|apr|jun|"
                     r"jul|aug|sep|sept|oct|nov|dec|gov|sen|rep|gen|prof|no)\.$")
_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
SENTENCE_END = {".", "!", "?", "...", "?!", "!!", "??"}
_PUNCT_CHARS = set("!\"#%'()*+,./:;<=>?@[\\]^_`{|}~-")


def _is_punct(ch: str) -> bool:
    return ch in _PUNCT_CHARS or unicodedata.category(ch).startswith("P")


def is_punct_token(tok: str) -> bool:
    return bool(tok) and all(_is_punct(c) or unicodedata.category(c).startswith("S") for c in tok)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return "".join(c if c == "\n" or not unicodedata.category(c).startswith("C") else " " for c in text)


def _split_chunk(chunk: str, known) -> list[str]:
    """Split one whitespace-free chunk into word / punctuation / clitic tokens."""
    if (chunk in known or chunk in SPECIALS or chunk in _CLITICS or _NUMBER.match(chunk)
            or _ABBREV.match(chunk)):
        return [chunk]
    lead, trail = [], []
    while chunk and _is_punct(chunk[0]) and chunk not in known and chunk[:2] != "'s":
        # Runs like '...' or '--' stay one token.
        j = 1
        while j < len(chunk) and chunk[j] == chunk[0]:
            j += 1
        lead.append(chunk[:j])
        chunk = chunk[j:]
    while chunk and _is_punct(chunk[-1]) and chunk not in known and not _ABBREV.match(chunk):
        j = len(chunk) - 1
        while j > 0 and chunk[j - 1] == chunk[-1]:
            j -= 1
        trail.insert(0, chunk[j:])
        chunk = chunk[:j]
    middle = []
    if chunk:
        for clitic in _CLITICS:
            if chunk.endswith(clitic) and len(chunk) > len(clitic) and chunk not in known:
                middle = [chunk[: -len(clitic)], clitic]
                break
        else:
            middle = [chunk]
    return lead + middle + trail


def tokenize(text: str, vocab: "Vocab | None" = None, newline_eos: bool = True) -> list[str]:
    """Text -> list of tokens (see module docstring). With ``vocab``, the result only holds vocab tokens."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    known = vocab.stoi if vocab is not None else {}
    out: list[str] = []
    for li, line in enumerate(_clean(text).split("\n")):
        if li > 0 and newline_eos:
            out.append(EOS)
        for raw in line.split():
            chunk = raw if raw in (NUM, UNK, EOS) else raw.lower()
            for tok in _split_chunk(chunk, known):
                if tok != NUM and tok not in known and _NUMBER.match(tok):
                    tok = NUM
                if vocab is not None and tok not in known:
                    if tok in SENTENCE_END and newline_eos and EOS in known:
                        # PTB-style vocabularies have no full stops: a sentence end is an <eos>.
                        if out and out[-1] != EOS:
                            out.append(EOS)
                        continue
                    if is_punct_token(tok):
                        continue  # punctuation the model never saw carries no signal
                    tok = UNK
                out.append(tok)
    return out


def _strip_punct(chunk: str) -> str:
    start, end = 0, len(chunk)
    while start < end and _is_punct(chunk[start]):
        start += 1
    while end > start and _is_punct(chunk[end - 1]):
        end -= 1
    word = chunk[start:end]
    return word[:-2] if word.lower().endswith("'s") else word


def display_forms(texts, words) -> dict[str, str]:
    """{word: how the texts usually spell it} for the lower-case ``words`` that are mostly not written in lower
    case (``nepal`` -> ``Nepal``, ``i`` -> ``I``, ``dna`` -> ``DNA``).

    Sentence-initial words are skipped (their capital says nothing about the word), so matching stays
    case-insensitive while suggestions can be shown as people write them."""
    spellings: dict[str, Counter] = {}
    for text in texts:
        sentence_start = True
        for chunk in _clean(text).split():
            word = _strip_punct(chunk)
            low = word.lower()
            if low not in words and low + "." in words:  # an abbreviation whose full stop was stripped: U.S.
                word, low = word + ".", low + "."
            if word and not sentence_start and low in words:
                spellings.setdefault(low, Counter())[word] += 1
            sentence_start = chunk[-1] in ".!?" and not _ABBREV.match(chunk.lower())
    out = {}
    for low, counts in spellings.items():
        best = min(counts, key=lambda w: (-counts[w], w))
        # Only a clear habit changes the display: "new" is "New" in New York but "new" elsewhere.
        if best != low and counts[best] >= 0.75 * sum(counts.values()):
            out[low] = best
    return out


class Vocab:
    """Token <-> id map. ``itos[i]`` is the token with id i; ``<unk>`` and ``<eos>`` are always present.

    ``display`` optionally maps a token to how people write it (``nepal`` -> ``Nepal``): tokens stay lower
    case, so matching is case-insensitive, and ``shown(token)`` gives the spelling for a page."""

    def __init__(self, itos: list[str], display: dict[str, str] | None = None):
        if len(set(itos)) != len(itos):
            raise ValueError("vocab has duplicate tokens")
        self.display = dict(display or {})
        self.itos = list(itos)
        for s in SPECIALS:
            if s not in self.itos:
                self.itos.append(s)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.unk_id, self.eos_id = self.stoi[UNK], self.stoi[EOS]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, tok: str) -> bool:
        return tok in self.stoi

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, self.unk_id) for t in tokens]

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    @classmethod
    def build(cls, tokens, max_size: int | None = None, min_freq: int = 1) -> "Vocab":
        """Most frequent first; ties broken alphabetically so the build is deterministic."""
        counts = Counter(t for t in tokens if t not in SPECIALS)
        words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + words)

    def shown(self, tok: str) -> str:
        """How a token is spelt for people (its usual capitalisation), else the token itself."""
        return self.display.get(tok, tok)

    def to_json(self) -> dict:
        # Vocabularies without display forms (PTB, Shakespeare) keep their exact vocab.json.
        return {"itos": self.itos, **({"display": self.display} if self.display else {})}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["itos"], data.get("display"))
