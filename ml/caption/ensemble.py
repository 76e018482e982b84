"""An ensemble of attention decoders that looks like one decoder to the beam search.

Independently trained decoders make different mistakes; averaging their word distributions at each
step (``log mean_m p_m(w)``) gives better captions than any one of them, at the cost of running each
member's LSTM step. All members read the same encoder cells and share one vocabulary.

The per-member states are concatenated along the last dimension, so the beam search can repeat,
reorder and index them exactly as it does a single decoder's (M = members)::

    prepare(features (B, L, D)) -> feats (B, L, M*P), att_feats (B, L, M*A), h, c (B, M*H)
    step(tokens (B,), ...)      -> logprobs (B, V), alpha (B, L) = mean of the members' maps, h, c
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .decoder import AttentionDecoder


class EnsembleDecoder(nn.Module):
    """``M >= 2`` :class:`AttentionDecoder` s with identical configs, averaged in probability space."""

    def __init__(self, members: list[AttentionDecoder]):
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two decoders")
        shapes = {(m.cfg.vocab_size, m.cfg.proj_dim, m.cfg.attention_dim, m.cfg.hidden_dim) for m in members}
        if len(shapes) != 1:
            raise ValueError(f"ensemble members must have the same sizes, got {sorted(shapes)}")
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg

    def prepare(self, features: torch.Tensor):
        parts = [m.prepare(features) for m in self.members]
        return tuple(torch.cat([p[i] for p in parts], dim=-1) for i in range(4))

    def step(self, tokens, feats, att_feats, h, c):
        M = len(self.members)
        # The int8 kernels are several times slower on the strided views that chunk() returns, so each
        # member's h and c are copied (a few KB); its encoder cells (hundreds of KB) are read in place.
        states = [(f, a, hm.contiguous(), cm.contiguous()) for f, a, hm, cm in
                  zip(feats.chunk(M, -1), att_feats.chunk(M, -1), h.chunk(M, -1), c.chunk(M, -1))]
        if torch.jit.is_tracing():
            # Members are independent until their distributions are averaged, so the traced step
            # (TracedStep) runs members 2..M on torch's inter-op threads while this thread runs the first.
            pending = [torch.jit.fork(m.step, tokens, *state) for m, state in zip(self.members[1:], states[1:])]
            outs = [self.members[0].step(tokens, *states[0])] + [torch.jit.wait(p) for p in pending]
        else:
            outs = [m.step(tokens, *state) for m, state in zip(self.members, states)]
        # Pairwise logaddexp, not logsumexp over a stacked (M, B, V) tensor: reducing over that outer
        # dimension took as long as a whole decoder step.
        logprobs = torch.log_softmax(outs[0][0].float(), dim=-1)
        for out in outs[1:]:
            logprobs = torch.logaddexp(logprobs, torch.log_softmax(out[0].float(), dim=-1))
        logprobs = logprobs - math.log(M)
        alpha = torch.stack([o[1] for o in outs]).mean(0)
        return logprobs, alpha, torch.cat([o[2] for o in outs], -1), torch.cat([o[3] for o in outs], -1)
