"""Greedy decoding (batched: validation) and beam search (one sentence, or several sentences in one batch).

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


def _select(st: dict, index: torch.Tensor, encoded: dict, owners: list[int]) -> dict:
    """The decoder state of the rows ``index``, each row looking at its own sentence ``owners[i]``. Only the
    recurrent state differs between the beams of a sentence: with one sentence every row gets a view of its
    encoder tensors instead of a copy."""
    out = {"h": st["h"][:, index], "feed": st["feed"][index]}
    one_sentence = encoded["memory"].size(0) == 1
    sentence = None if one_sentence else torch.tensor(owners)
    for key in ("keys", "memory", "summary", "mask"):
        if encoded[key] is None:
            out[key] = None
        elif one_sentence:
            out[key] = encoded[key].expand(len(index), *encoded[key].shape[1:])
        else:
            out[key] = encoded[key][sentence]
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
    return beam_search_many(model, [source], beam, length_alpha, block_ngram, nbest)[0]


@torch.inference_mode()
def beam_search_many(model: Seq2Seq, sources: list[list[int]], beam: int = 5, length_alpha: float = 0.6,
                     block_ngram: int = 4, nbest: int | None = None) -> list[list[Hypothesis]]:
    """Beam search for several sources at once: each step runs the live hypotheses of every sentence as one
    decoder batch (rows grouped by sentence), and each sentence keeps and ends its own beam exactly as it would
    alone. -> per source, up to ``nbest`` (default ``beam``) hypotheses, best first."""
    model.eval()
    nbest = nbest or beam
    src, lengths = pad_sources(sources)
    encoded = model.encode(src, lengths)
    st = encoded
    max_lens = [max_length(len(s)) for s in sources]
    owners = list(range(len(sources)))              # the sentence of each live row, rows grouped by sentence
    seqs: list[list[int]] = [[] for _ in sources]
    logprobs = torch.zeros(len(sources))
    attns: list[list[torch.Tensor]] = [[] for _ in sources]
    finished: list[list[Hypothesis]] = [[] for _ in sources]
    y = torch.full((len(sources),), BOS, dtype=torch.long)
    for t in range(max(max_lens) + 1):
        logits, weights, st = model.decoder.step(y, st)
        logp = torch.log_softmax(logits.float(), dim=-1)
        keep_rows, keep_tokens, keep_logprobs = [], [], []
        for sentence, first, end in _groups(owners):
            rows = logp[first:end]                          # a view: the rules apply in place
            _apply_rules(rows, seqs[first:end], t, max_lens[sentence], block_ngram)
            total = (logprobs[first:end].unsqueeze(1) + rows).flatten()
            top, flat = total.topk(min(2 * beam, total.numel()))
            kept = 0
            for value, index in zip(top.tolist(), flat.tolist()):
                if value == float("-inf"):
                    break
                row, token = divmod(index, rows.size(1))
                row += first
                if token == EOS:
                    n = len(seqs[row]) + 1
                    attention = (torch.stack(attns[row] + [weights[row].float()])[:, :len(sources[sentence])]
                                 if weights is not None else None)
                    finished[sentence].append(Hypothesis(seqs[row], value, value / n ** length_alpha, attention))
                elif kept < beam:
                    keep_rows.append(row)
                    keep_tokens.append(token)
                    keep_logprobs.append(value)
                    kept += 1
            finished[sentence].sort(key=lambda h: -h.score)
            if kept and len(finished[sentence]) >= max(beam, nbest):  # this sentence is done: drop its rows
                del keep_rows[-kept:], keep_tokens[-kept:], keep_logprobs[-kept:]
        if not keep_rows:
            break
        index = torch.tensor(keep_rows)
        attns = [attns[r] + ([weights[r].float()] if weights is not None else []) for r in keep_rows]
        seqs = [seqs[r] + [tok] for r, tok in zip(keep_rows, keep_tokens)]
        owners = [owners[r] for r in keep_rows]
        logprobs = torch.tensor(keep_logprobs)
        st = _select(st, index, encoded, owners)
        y = torch.tensor(keep_tokens)
    return [hyps[:nbest] for hyps in finished]


def _groups(owners: list[int]):
    """(sentence, first row, end row) of each run of rows that belong to one sentence."""
    first = 0
    for row in range(1, len(owners) + 1):
        if row == len(owners) or owners[row] != owners[first]:
            yield owners[first], first, row
            first = row
