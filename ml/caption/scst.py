"""Self-critical sequence training (Rennie et al. 2017, arXiv:1612.00563) with a CIDEr-D reward.

After cross-entropy training, the decoder samples K captions per image; each sample's reward is
its CIDEr-D against the image's references, its baseline the mean reward of the other K-1
samples (the "new SCST" variant: no extra greedy pass). Loss = -(reward - baseline) * log p.

:class:`CiderD` is a vectorised re-implementation of pycocoevalcap's CIDEr-D (sigma 6, clipped
counts, length penalty, x10) whose document frequencies come from the TRAINING references, so
rewards do not depend on the batch.
"""
from __future__ import annotations

import math
from collections import Counter

import torch

from .decoder import AttentionDecoder
from .vocab import Vocab, tokenize


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


class CiderD:
    """CIDEr-D with corpus document frequencies: ``CiderD(refs).score(hyp_words, image) -> float``."""

    def __init__(self, refs: dict[str, list[str]], n: int = 4, sigma: float = 6.0):
        self.n, self.sigma = n, sigma
        self.refs = {k: [tokenize(c) for c in v] for k, v in refs.items()}
        df: Counter = Counter()
        for caps in self.refs.values():
            df.update({g for words in caps for k in range(1, n + 1) for g in _ngrams(words, k)})
        self.df = df
        self.log_n_docs = math.log(float(len(self.refs)))
        self.ref_vecs = {k: [self._vec(w) for w in caps] for k, caps in self.refs.items()}

    def _vec(self, words: list[str]):
        """-> ([{ngram: tfidf} per n], [norm per n], length)."""
        vecs, norms = [], []
        for k in range(1, self.n + 1):
            counts = _ngrams(words, k)
            v = {g: c * (self.log_n_docs - math.log(max(1.0, self.df.get(g, 0.0)))) for g, c in counts.items()}
            vecs.append(v)
            norms.append(math.sqrt(sum(x * x for x in v.values())))
        return vecs, norms, len(words)

    def score(self, words: list[str], image: str) -> float:
        hv, hn, hl = self._vec(words)
        total = 0.0
        for rv, rn, rl in self.ref_vecs[image]:
            penalty = math.exp(-((hl - rl) ** 2) / (2 * self.sigma ** 2))
            for k in range(self.n):
                if hn[k] == 0 or rn[k] == 0:
                    continue
                dot = sum(min(val, rv[k].get(g, 0.0)) * rv[k].get(g, 0.0) for g, val in hv[k].items())
                total += penalty * dot / (hn[k] * rn[k])
        return total / self.n / len(self.ref_vecs[image]) * 10.0


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero all but the smallest set of words whose probabilities add up to ``top_p`` (per row)."""
    sorted_p, order = probs.sort(dim=-1, descending=True)
    sorted_p[(sorted_p.cumsum(-1) - sorted_p) > top_p] = 0.0
    return torch.zeros_like(probs).scatter_(1, order, sorted_p)


def sample(decoder: AttentionDecoder, features: torch.Tensor, vocab: Vocab, k: int, max_len: int = 16,
           top_p: float = 1.0):
    """Sample ``k`` captions per image with gradients.

    ``top_p < 1`` draws each word from the nucleus (Holtzman et al. 2019): a label-smoothed model
    spreads ~10% of every step's mass over the whole vocabulary, so most full-distribution samples
    of a 12-word caption contain a random word, and the reward mostly teaches "not that word".

    features ``(N, L, D)`` -> tokens ``(N*k, max_len)`` (0 after ``<end>``), logprobs ``(N*k, max_len)``
    of the sampled tokens, mask ``(N*k, max_len)`` (1 up to and including ``<end>``).
    """
    feats, att, h, c = (x.repeat_interleave(k, dim=0) for x in decoder.prepare(features))
    R = feats.size(0)
    tokens = torch.full((R,), vocab.start_id, dtype=torch.long)
    alive = torch.ones(R, dtype=torch.bool)
    out_tok, out_lp, out_mask = [], [], []
    banned = [vocab.pad_id, vocab.start_id, vocab.unk_id]
    for t in range(max_len):
        logits, _, h, c = decoder.step(tokens, feats, att, h, c)
        logits = logits.float()
        logits[:, banned] = float("-inf")
        if t == max_len - 1:
            keep = logits[:, vocab.end_id].clone()
            logits = torch.full_like(logits, float("-inf"))
            logits[:, vocab.end_id] = keep
        logp = torch.log_softmax(logits, dim=-1)
        probs = logp.detach().exp()
        nxt = torch.multinomial(_nucleus(probs, top_p) if top_p < 1 else probs, 1).squeeze(1)
        out_tok.append(torch.where(alive, nxt, torch.zeros_like(nxt)))
        out_lp.append(logp.gather(1, nxt.unsqueeze(1)).squeeze(1))
        out_mask.append(alive.float())
        alive = alive & (nxt != vocab.end_id)
        tokens = nxt
        if not alive.any():
            break
    return torch.stack(out_tok, 1), torch.stack(out_lp, 1), torch.stack(out_mask, 1)


def scst_loss(decoder: AttentionDecoder, features: torch.Tensor, names: list[str], vocab: Vocab,
              cider: CiderD, k: int = 5, max_len: int = 16, top_p: float = 1.0):
    """One SCST batch -> ``(loss, mean_reward)``; the reward is CIDEr-D, the leave-one-out mean reward the
    baseline. features ``(N, L, D)``, ``names[i]`` image i's name in ``cider``."""
    tokens, logp, mask = sample(decoder, features, vocab, k, max_len, top_p)
    words = [vocab.decode(row) for row in tokens.tolist()]
    rewards = torch.tensor([cider.score(w, names[i // k]) for i, w in enumerate(words)]).view(-1, k)
    baseline = (rewards.sum(1, keepdim=True) - rewards) / (k - 1)
    advantage = (rewards - baseline).view(-1, 1)
    loss = -(advantage * logp * mask).sum() / mask.sum()
    return loss, float(rewards.mean())
