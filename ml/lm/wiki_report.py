"""Measure the wiki corpus's word vocabulary before choosing a tokenisation (issue 22).

    .venv/bin/python -m ml.lm.wiki_report [--json]

Reports, on the train split only (so nothing about valid/test leaks into the choice):
- tokens (words, N and <eos>, as ml.lm.corpus.wiki encodes them) and vocabulary size at count thresholds;
- how often each country / language name in ``NAMES`` occurs, and the smallest threshold that drops it;
- what a tied float16 embedding of each vocabulary costs, as a share of the 41 MB that models/ has left.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter

from .corpus import wiki_articles, wiki_lines, wiki_split_titles
from .tokenizer import EOS

THRESHOLDS = (1, 2, 3, 5)
EMBED_SIZES = (200, 256, 400)
MODELS_BUDGET_MB, MODELS_USED_MB = 100, 59
# Country and language (or nationality) words a probe may cue or answer; pairs share a line.
NAMES = """nepal nepali | japan japanese | china chinese | india hindi | france french | germany german |
italy italian | spain spanish | portugal portuguese | russia russian | greece greek | turkey turkish |
poland polish | sweden swedish | norway norwegian | denmark danish | finland finnish | netherlands dutch |
hungary hungarian | romania romanian | korea korean | vietnam vietnamese | thailand thai | indonesia indonesian |
iran persian | israel hebrew | egypt arabic | pakistan urdu | bangladesh bengali | brazil portuguese |
mexico spanish | ukraine ukrainian | czech czech | ireland irish | england english | philippines filipino |
malaysia malay | kenya swahili | ethiopia amharic | mongolia mongolian | tibet tibetan | armenia armenian |
georgia georgian | iceland icelandic | wales welsh | serbia serbian | croatia croatian | bulgaria bulgarian |
cambodia khmer | laos lao | afghanistan pashto | sri tamil | tanzania swahili | somalia somali | albania albanian"""


def name_pairs() -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in NAMES.replace("\n", " ").split("|")]


def train_counts() -> tuple[Counter, int]:
    """(word counts, tokens including <eos>) of the train split."""
    articles, titles = wiki_articles(), wiki_split_titles()
    counts, tokens = Counter(), 0
    for line in wiki_lines(articles[t] for t in titles["train"]):
        counts.update(t for t in line if t != EOS)
        tokens += len(line)
    return counts, tokens


def embedding_mb(vocab_size: int, emsize: int) -> float:
    """Tied input/output embedding (V x E) in float16, in MB (10^6 bytes)."""
    return vocab_size * emsize * 2 / 1e6


def report() -> dict:
    counts, tokens = train_counts()
    free = MODELS_BUDGET_MB - MODELS_USED_MB
    vocab = {}
    for k in THRESHOLDS:
        v = sum(c >= k for c in counts.values()) + 2  # + <unk>, <eos>
        covered = sum(c for c in counts.values() if c >= k) / sum(counts.values())
        vocab[k] = {"size": v, "word_coverage": round(covered, 4),
                    "embedding_mb": {e: round(embedding_mb(v, e), 1) for e in EMBED_SIZES},
                    "share_of_free": {e: round(embedding_mb(v, e) / free, 3) for e in EMBED_SIZES}}
    names = {w: counts[w] for pair in name_pairs() for w in pair}
    return {"train_tokens": tokens, "distinct_words": len(counts), "vocab": vocab, "names": names,
            "names_lost": {k: sorted(w for w, c in names.items() if c < k) for k in THRESHOLDS},
            "models_free_mb": free}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    r = report()
    if ap.parse_args().json:
        print(json.dumps(r, indent=1))
        return
    print(f"train tokens {r['train_tokens']:,}; distinct words {r['distinct_words']:,}; "
          f"models/ free {r['models_free_mb']} MB")
    for k, v in r["vocab"].items():
        print(f"count >= {k}: V = {v['size']:,}, covers {v['word_coverage']:.1%} of words; fp16 tied embedding MB "
              f"{v['embedding_mb']} = share of free {v['share_of_free']}; names lost: {r['names_lost'][k]}")
    print("names:", " ".join(f"{w}={c}" for w, c in r["names"].items()))


if __name__ == "__main__":
    main()
