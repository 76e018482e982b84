"""Greedy and beam-search decoding, batched over images (all beams of all images are one batch).

Both decoders share the same rules, so beam width 1 gives exactly the greedy caption:

- ``<unk>``, ``<pad>`` and ``<start>`` are masked: they are never emitted;
- an n-gram that already occurs in the hypothesis is never repeated (``block_ngram``, 0 = off),
  and the same word never comes twice in a row ("a a dog");
- after ``max_len`` words ``<end>`` is forced.

Beam search ranks finished hypotheses by ``logprob / n_tokens ** length_alpha`` (``n_tokens``
counts ``<end>``), keeps ``2k`` candidates per step so ``k`` stay alive after some end, and stops
an image once it has ``k`` finished hypotheses.

Each hypothesis is ``Hypothesis(tokens, logprob, score, alphas)`` with ``alphas (n_words, 49)``:
the attention map that produced each word (rows sum to 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .decoder import AttentionDecoder
from .vocab import Vocab


@dataclass
class Hypothesis:
    tokens: list[int]          # word ids, without <start>/<end>
    logprob: float             # sum of log p over the words and <end>
    score: float               # length-normalised logprob (the ranking key)
    alphas: torch.Tensor       # (len(tokens), L) attention per word


def _banned_ngram_tokens(seq: list[int], n: int) -> list[int]:
    """Tokens that would complete an n-gram already present in ``seq``."""
    if n <= 0 or len(seq) < n - 1:
        return []
    prefix = tuple(seq[len(seq) - n + 1:]) if n > 1 else ()
    return [seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i:i + n - 1]) == prefix]


def _mask_logprobs(logp: torch.Tensor, seqs: list[list[int]], vocab: Vocab, t: int, max_len: int,
                   block_ngram: int) -> torch.Tensor:
    """Apply the shared decoding rules in place to ``logp (R, V)``; ``seqs`` are the R prefixes."""
    logp[:, [vocab.pad_id, vocab.start_id, vocab.unk_id]] = float("-inf")
    if t >= max_len:
        end = logp[:, vocab.end_id].clone()
        logp.fill_(float("-inf"))
        logp[:, vocab.end_id] = end
        return logp
    rows: list[int] = []
    cols: list[int] = []
    for r, seq in enumerate(seqs):
        if not seq:
            continue
        banned = _banned_ngram_tokens(seq, block_ngram) if block_ngram else []
        banned.append(seq[-1])
        rows += [r] * len(banned)
        cols += banned
    if rows:
        logp[rows, cols] = float("-inf")   # one indexing call for all beams: this runs at every step
    return logp


def _normalise(logprob: float, n_tokens: int, alpha: float) -> float:
    return logprob / (n_tokens ** alpha) if alpha else logprob


@torch.inference_mode()
def greedy_decode(decoder: AttentionDecoder, features: torch.Tensor, vocab: Vocab, max_len: int = 20,
                  block_ngram: int = 3, length_alpha: float = 0.0) -> list[list[Hypothesis]]:
    """``features (N, L, D)`` -> per image a one-element list with the greedy hypothesis."""
    feats, att, h, c = decoder.prepare(features)
    N = features.size(0)
    tokens = torch.full((N,), vocab.start_id, dtype=torch.long)
    seqs: list[list[int]] = [[] for _ in range(N)]
    alphas: list[list[torch.Tensor]] = [[] for _ in range(N)]
    logprob = [0.0] * N
    done = [False] * N
    for t in range(max_len + 1):
        logits, alpha, h, c = decoder.step(tokens, feats, att, h, c)
        logp = _mask_logprobs(torch.log_softmax(logits.float(), dim=-1), seqs, vocab, t, max_len,
                              block_ngram)
        best_lp, best = logp.max(dim=-1)
        for n in range(N):
            if done[n]:
                continue
            logprob[n] += float(best_lp[n])
            if int(best[n]) == vocab.end_id:
                done[n] = True
            else:
                seqs[n].append(int(best[n]))
                alphas[n].append(alpha[n])
        if all(done):
            break
        tokens = best
    return [[Hypothesis(seqs[n], logprob[n], _normalise(logprob[n], len(seqs[n]) + 1, length_alpha),
                        torch.stack(alphas[n]) if alphas[n] else alpha.new_zeros(0, alpha.size(1)))]
            for n in range(N)]


@torch.inference_mode()
def beam_search(decoder: AttentionDecoder, features: torch.Tensor, vocab: Vocab, beam: int = 3,
                max_len: int = 20, length_alpha: float = 0.7, block_ngram: int = 3,
                ) -> list[list[Hypothesis]]:
    """``features (N, L, D)`` -> per image its ``beam`` best hypotheses, best first."""
    N, L, k = features.size(0), features.size(1), beam
    feats, att, h, c = (x.repeat_interleave(k, dim=0) for x in decoder.prepare(features))
    tokens = torch.full((N * k,), vocab.start_id, dtype=torch.long)
    scores = torch.zeros(N, k)
    scores[:, 1:] = float("-inf")     # all k beams start identical: keep one alive at step 0
    seqs: list[list[int]] = [[] for _ in range(N * k)]
    hist = torch.zeros(N * k, 0, L)
    finished: list[list[Hypothesis]] = [[] for _ in range(N)]
    offsets = (torch.arange(N) * k).unsqueeze(1)
    for t in range(max_len + 1):
        logits, alpha, h, c = decoder.step(tokens, feats, att, h, c)
        logp = _mask_logprobs(torch.log_softmax(logits.float(), dim=-1), seqs, vocab, t, max_len,
                              block_ngram)
        V = logp.size(1)
        cand = (scores.view(-1, 1) + logp).view(N, k * V)
        top_s, top_i = cand.topk(2 * k, dim=1)                    # (N, 2k)
        src = top_i // V + offsets                                # row of the parent beam
        word = top_i % V
        is_end = (word == vocab.end_id) | torch.isinf(top_s)
        hist_all = torch.cat([hist, alpha.unsqueeze(1)], dim=1)   # (N*k, t+1, L)
        _collect_finished(finished, is_end, top_s, src, seqs, hist_all, k, length_alpha)
        if all(len(f) >= k for f in finished):
            break
        # The first k non-ending candidates (in score order) continue.
        order = torch.argsort(is_end.long() * (2 * k) + torch.arange(2 * k), dim=1)[:, :k]
        keep_src = src.gather(1, order).view(-1)
        keep_word = word.gather(1, order).view(-1)
        scores = top_s.gather(1, order)
        seqs = [seqs[s] + [w] for s, w in zip(keep_src.tolist(), keep_word.tolist())]
        hist = hist_all[keep_src]
        h, c, tokens = h[keep_src], c[keep_src], keep_word
    return [sorted(f, key=lambda hyp: -hyp.score)[:k] for f in finished]


def _collect_finished(finished, is_end, top_s, src, seqs, hist_all, k, length_alpha):
    """Move ``<end>`` candidates ranked within the top k into ``finished`` (images not yet full)."""
    ends = is_end[:, :k].nonzero().tolist()
    if not ends:
        return
    top_s, src = top_s.tolist(), src.tolist()
    for n, j in ends:
        logprob = top_s[n][j]
        if len(finished[n]) >= k or logprob == float("-inf"):
            continue
        parent = src[n][j]
        seq = seqs[parent]
        finished[n].append(Hypothesis(list(seq), logprob,
                                      _normalise(logprob, len(seq) + 1, length_alpha),
                                      hist_all[parent, :len(seq)].clone()))


def decode(decoder: AttentionDecoder, features: torch.Tensor, vocab: Vocab, beam: int = 3,
           **kwargs) -> list[list[Hypothesis]]:
    """Greedy when ``beam == 1`` (identical result, faster), beam search otherwise."""
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    if beam == 1:
        kwargs.pop("length_alpha", None)
        return greedy_decode(decoder, features, vocab, **kwargs)
    return beam_search(decoder, features, vocab, beam=beam, **kwargs)
