"""Greedy decoding (batched: validation) and beam search (one sentence: the demo and the test score).

Both follow the same rules: ``<pad>``, ``<unk>`` and ``<s>`` are never emitted; a piece that would repeat an
n-gram of ``block_ngram`` pieces already in the hypothesis is blocked (0 = off); after ``max_len`` pieces
``</s>`` is forced. Beam search ranks finished hypotheses by ``logprob / n ** length_alpha`` (n counts ``</s>``),
keeps ``2k`` candidates a step so ``k`` stay alive when some end, and stops once ``k`` have ended (as fairseq
does: a live hypothesis could still overtake them, but rarely does, and waiting costs many steps).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import BOS, EOS, PAD, UNK, pad_sources
from .model import Seq2Seq

NEVER = (PAD, UNK, BOS)


@dataclass
class Hypothesis:
    tokens: list[int]                 # target pieces, without <s> and </s>
    logprob: float                    # sum of log p over the pieces and </s>
    score: float                      # logprob / (len(tokens) + 1) ** length_alpha: the ranking key
    attention: torch.Tensor | None    # (len(tokens) + 1, S) weights that produced each piece and </s>


def max_length(source_length: int) -> int:
    """Enough room for a target: German and French run at most about twice the English pieces here."""
    return 2 * source_length + 10


def _blocked(seq: list[int], n: int) -> list[int]:
    """Pieces that would complete an n-gram already present in ``seq``."""
    if n <= 0 or len(seq) < n:
        return []
    prefix = tuple(seq[len(seq) - n + 1:])
    return [seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i:i + n - 1]) == prefix]


def _apply_rules(logp: torch.Tensor, seqs: list[list[int]], t: int, max_len: int, block_ngram: int) -> None:
    """In place on logp (R, V) for the R prefixes ``seqs`` at step t."""
    logp[:, list(NEVER)] = float("-inf")
    if t >= max_len:
        end = logp[:, EOS].clone()
        logp.fill_(float("-inf"))
        logp[:, EOS] = end
        return
    for row, seq in enumerate(seqs):
        banned = _blocked(seq, block_ngram)
        if banned:
            logp[row, banned] = float("-inf")


def _select(st: dict, index: torch.Tensor) -> dict:
    """The decoder state of the beams ``index``. Only the recurrent state differs between beams; the encoder's
    tensors are the one sentence's, so every beam gets a view of its first row instead of a copy."""
    out = {"h": st["h"][:, index], "feed": st["feed"][index]}
    for key in ("keys", "memory", "summary", "mask"):
        out[key] = st[key][:1].expand(len(index), *st[key].shape[1:]) if st[key] is not None else None
    return out


@torch.inference_mode()
def greedy(model: Seq2Seq, sources: list[list[int]], block_ngram: int = 4) -> list[list[int]]:
    """Batched greedy decoding of source id lists (each ending in </s>) -> target piece lists."""
    model.eval()
    src, lengths = pad_sources(sources)
    st = model.encode(src, lengths)
    max_len = max_length(int(lengths.max()))
    y = torch.full((len(sources),), BOS, dtype=torch.long)
    seqs: list[list[int]] = [[] for _ in sources]
    done = torch.zeros(len(sources), dtype=torch.bool)
    for t in range(max_len + 1):
        logits, _, st = model.decoder.step(y, st)
        logp = torch.log_softmax(logits.float(), dim=-1)
        _apply_rules(logp, seqs, t, max_len, block_ngram)
        y = logp.argmax(-1)
        for row in (~done).nonzero().flatten().tolist():
            if y[row] == EOS:
                done[row] = True
            else:
                seqs[row].append(int(y[row]))
        if done.all():
            break
    return seqs


@torch.inference_mode()
def beam_search(model: Seq2Seq, source: list[int], beam: int = 5, length_alpha: float = 0.6,
                block_ngram: int = 4, nbest: int | None = None) -> list[Hypothesis]:
    """One source (ids ending in </s>) -> up to ``nbest`` (default ``beam``) hypotheses, best first."""
    model.eval()
    nbest = nbest or beam
    src, lengths = pad_sources([source])
    st = model.encode(src, lengths)
    max_len = max_length(len(source))
    seqs: list[list[int]] = [[]]
    logprobs = torch.zeros(1)
    attns: list[list[torch.Tensor]] = [[]]
    finished: list[Hypothesis] = []
    y = torch.tensor([BOS])
    for t in range(max_len + 1):
        logits, weights, st = model.decoder.step(y, st)
        logp = torch.log_softmax(logits.float(), dim=-1)
        _apply_rules(logp, seqs, t, max_len, block_ngram)
        total = (logprobs.unsqueeze(1) + logp).flatten()
        top, flat = total.topk(min(2 * beam, total.numel()))
        keep_rows, keep_tokens, keep_logprobs = [], [], []
        for value, index in zip(top.tolist(), flat.tolist()):
            if value == float("-inf"):
                break
            row, token = divmod(index, logp.size(1))
            if token == EOS:
                n = len(seqs[row]) + 1
                attention = torch.stack(attns[row] + [weights[row].float()]) if weights is not None else None
                finished.append(Hypothesis(seqs[row], value, value / n ** length_alpha, attention))
            elif len(keep_rows) < beam:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_logprobs.append(value)
        finished.sort(key=lambda h: -h.score)
        if not keep_rows or len(finished) >= max(beam, nbest):
            break
        index = torch.tensor(keep_rows)
        attns = [attns[r] + ([weights[r].float()] if weights is not None else []) for r in keep_rows]
        seqs = [seqs[r] + [tok] for r, tok in zip(keep_rows, keep_tokens)]
        logprobs = torch.tensor(keep_logprobs)
        st = _select(st, index)
        y = torch.tensor(keep_tokens)
    return finished[:nbest]

