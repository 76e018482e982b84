"""Character n-grams that let rare words share what frequent ones learned (fastText-style, Bojanowski et al. 2017).

A word-level model with a plain embedding learns "nepali" from the two times it occurs in the corpus. Built from
its character n-grams instead ("<ne", "nep", "epal", "<nepa", ...), its vector shares most of its parts with
"nepal" and "nepalese", and its ending with other language names ("bengali", "hindi"). With tied input and output
embeddings, the state that remembers "nepal" then also points towards "nepali".

Only training uses the n-grams: ``RNNModel.fold_subwords`` adds them into one ordinary (V, E) embedding, so a
shipped model is a plain word model.
"""
from __future__ import annotations

from collections import Counter

import torch

from .tokenizer import NUM

NGRAM_MIN, NGRAM_MAX = 3, 5


def char_ngrams(word: str, nmin: int = NGRAM_MIN, nmax: int = NGRAM_MAX) -> list[str]:
    """'nepal' -> ['<ne', 'nep', ..., 'epal>']; '<' and '>' mark the word's edges. Non-words (punctuation,
    '<eos>', the number token N) get none."""
    if not any(c.isalpha() for c in word) or word.startswith("<") or word == NUM:
        return []
    w = f"<{word}>"
    return [w[i:i + n] for n in range(nmin, nmax + 1) for i in range(len(w) - n + 1)]


def ngram_table(itos: list[str], min_words: int = 2) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The n-grams of each vocabulary word, as flat ids and per-word offsets (nn.EmbeddingBag's input).

    Only n-grams found in at least ``min_words`` words are kept: one unique to a word adds nothing its own
    embedding does not already give. Returns (ids (nnz,), offsets (V,), number of distinct n-grams).
    """
    grams = [sorted(set(char_ngrams(w))) for w in itos]
    counts = Counter(g for gs in grams for g in gs)
    index = {g: i for i, g in enumerate(sorted(g for g, c in counts.items() if c >= min_words))}
    ids, offsets = [], []
    for gs in grams:
        offsets.append(len(ids))
        ids.extend(index[g] for g in gs if g in index)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long), len(index)
