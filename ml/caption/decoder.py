"""Show, Attend and Tell decoder: LSTM with soft attention over the 7x7 encoder grid.

Xu et al. 2015 (arXiv:1502.03044) with its gating scalar ``beta = sigmoid(f_beta(h))`` on the
context vector, "deep output" layer, and the doubly stochastic attention penalty
``(1 - sum_t alpha_ti)^2`` (see :func:`doubly_stochastic_penalty`).

Shapes (B = batch, L = 49 grid cells, D = 1280 encoder channels, T = caption length incl.
``<start>``/``<end>``, V = vocabulary size)::

    features (B, L, D) --prepare--> feats (B, L, P), att_feats (B, L, A), h, c (B, H)
    step(tokens (B,), ...) -> logits (B, V), alpha (B, L), h, c
    forward(features (N, L, D), captions (B, T), lengths (B,), image_index (B,))
        -> logits (B, T-1, V), alphas (B, T-1, L)
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class DecoderConfig:
    vocab_size: int
    feature_dim: int = 1280
    proj_dim: int = 512        # encoder cells are projected to this once per image
    embed_dim: int = 512
    hidden_dim: int = 512
    attention_dim: int = 512
    dropout: float = 0.5
    tie_weights: bool = True   # output layer shares the word embedding matrix

    def to_dict(self) -> dict:
        return asdict(self)


class AttentionDecoder(nn.Module):
    """LSTM decoder with additive (Bahdanau) soft attention, gating scalar and deep output."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        # Projecting 1280 -> P once per image makes every LSTM step ~2x cheaper than attending
        # over raw 1280-d cells, which matters on a 2-core CPU.
        self.feat_proj = nn.Sequential(nn.Linear(cfg.feature_dim, cfg.proj_dim), nn.ReLU(),
                                       nn.Dropout(cfg.dropout * 0.5))
        self.enc_att = nn.Linear(cfg.proj_dim, cfg.attention_dim)
        self.dec_att = nn.Linear(cfg.hidden_dim, cfg.attention_dim)
        self.full_att = nn.Linear(cfg.attention_dim, 1)
        self.f_beta = nn.Linear(cfg.hidden_dim, cfg.proj_dim)
        self.init_h = nn.Linear(cfg.proj_dim, cfg.hidden_dim)
        self.init_c = nn.Linear(cfg.proj_dim, cfg.hidden_dim)
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.lstm = nn.LSTMCell(cfg.embed_dim + cfg.proj_dim, cfg.hidden_dim)
        self.out_h = nn.Linear(cfg.hidden_dim, cfg.embed_dim)
        self.out_z = nn.Linear(cfg.proj_dim, cfg.embed_dim, bias=False)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.embed_dim, cfg.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if self.cfg.tie_weights:
            self.fc.weight = self.embedding.weight
        nn.init.zeros_(self.fc.bias)

    def prepare(self, features: torch.Tensor):
        """``(B, L, D)`` encoder cells -> ``feats (B, L, P), att_feats (B, L, A), h (B, H), c (B, H)``.

        The encoder half of the attention MLP is computed here once, not at every step.
        """
        feats = self.feat_proj(features.float())
        att_feats = self.enc_att(feats)
        mean = feats.mean(dim=1)
        return feats, att_feats, torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))

    def attend(self, feats, att_feats, h):
        """Soft attention -> gated context ``(B, P)`` and weights ``alpha (B, L)`` (rows sum to 1)."""
        scores = self.full_att(_tanh(att_feats + self.dec_att(h).unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(scores, dim=1)
        context = torch.bmm(alpha.unsqueeze(1), feats).squeeze(1)
        return torch.sigmoid(self.f_beta(h)) * context, alpha

    def step(self, tokens, feats, att_feats, h, c):
        """One word: ``tokens (B,)`` (previous word ids) -> ``logits (B, V), alpha (B, L), h, c``."""
        context, alpha = self.attend(feats, att_feats, h)
        emb = self.embedding(tokens)
        h, c = self.lstm(torch.cat([emb, context], dim=1), (h, c))
        out = torch.tanh(emb + self.out_h(h) + self.out_z(context))
        return self.fc(self.dropout(out)), alpha, h, c

    def forward(self, features, captions, lengths, image_index=None):
        """Teacher-forced pass.

        Args:
            features: ``(N, L, D)`` encoder cells for N images.
            captions: ``(B, T)`` ids ``<start> w1 .. wn <end> <pad>..``, sorted by length, longest first.
            lengths: ``(B,)`` tokens incl. ``<start>`` and ``<end>`` (descending).
            image_index: ``(B,)`` row of ``features`` for each caption (default ``arange(B)``),
                so the 5 captions of an image share one projection of its encoder cells.

        Returns:
            logits ``(B, T-1, V)`` predicting ``captions[:, 1:]`` and alphas ``(B, T-1, L)``;
            positions past a caption's end are zero.
        """
        feats, att_feats, h, c = self.prepare(features)
        if image_index is not None:
            feats, att_feats = feats[image_index], att_feats[image_index]
            h, c = h[image_index], c[image_index]
        B, T = captions.shape
        steps = lengths - 1
        logits = feats.new_zeros(B, T - 1, self.cfg.vocab_size)
        alphas = feats.new_zeros(B, T - 1, feats.size(1))
        for t in range(int(steps[0])):
            n = int((steps > t).sum())  # captions are sorted, so the active ones are a prefix
            out, alpha, h_n, c_n = self.step(captions[:n, t], feats[:n], att_feats[:n], h[:n], c[:n])
            logits[:n, t], alphas[:n, t] = out, alpha
            h, c = h_n, c_n
        return logits, alphas


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1, written so: this torch's CPU tanh is ~3x slower than sigmoid, and the
    attention's tanh over beams x 49 cells x 512 is the largest single cost of a decoding step."""
    return torch.sigmoid(2 * x) * 2 - 1


def quantize_int8(decoder: nn.Module) -> nn.Module:
    """Copy of ``decoder`` with int8 dynamic quantisation of its Linear and
    LSTMCell layers, except the attention score layer.

    Decoding one image is bound by reading the weights at every step (batch = beam width), so
    4x smaller weights give a ~3-4x faster beam search on CPU. Inference only.
    """
    from ml.quantize import dynamic_int8

    quantized = dynamic_int8(decoder, {nn.Linear, nn.LSTMCell})
    # The attention's 512 -> 1 score layer runs on every beam x cell: an int8 kernel spends ~6x longer
    # quantising its (beams x 49, 512) input than a float dot product takes, for a 2 KB weight.
    for name, module in decoder.named_modules():
        parent, _, leaf = name.rpartition(".")
        if leaf == "full_att":
            setattr(quantized.get_submodule(parent), leaf, copy.deepcopy(module).float().eval())
    return quantized


class TracedStep(nn.Module):
    """Inference wrapper: ``prepare`` is the decoder's own, ``step`` a frozen TorchScript trace of it.

    A beam-search step is ~15 small ops on 3 rows, so Python and module-call overhead is a large part
    of it; the trace runs the same kernels without it (~30-40 % faster decoding, identical outputs).
    Works for a decoder or its int8 copy; any number of rows. Inference only.
    """

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder.eval()
        with torch.no_grad():
            feats, att_feats, h, c = (x.repeat_interleave(3, dim=0)     # 3 rows, as a beam of 3 has
                                      for x in decoder.prepare(torch.zeros(1, 49, decoder.cfg.feature_dim)))
            tokens = torch.tensor([1, 4, 5])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # TorchScript deprecation notice
                self.traced = torch.jit.freeze(torch.jit.trace(_Step(decoder).eval(), (tokens, feats, att_feats, h, c),
                                                               check_trace=False))

    def prepare(self, features):
        return self.decoder.prepare(features)

    def step(self, tokens, feats, att_feats, h, c):
        return self.traced(tokens, feats, att_feats, h, c)


class _Step(nn.Module):
    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, tokens, feats, att_feats, h, c):
        return self.decoder.step(tokens, feats, att_feats, h, c)


def doubly_stochastic_penalty(alphas: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over captions and cells of ``(1 - sum_t alpha_ti)^2``: every cell gets attended ~once.

    Averaging over the L cells (not summing, as in the paper) keeps the term on the scale of the
    cross-entropy with ``alpha_c = 1`` (as in sgrvinod's reference implementation).

    alphas ``(B, T-1, L)`` (zero past the end), lengths ``(B,)`` -> scalar.
    """
    del lengths  # padding steps are zero already, so they add nothing to the sum over t
    return ((1.0 - alphas.sum(dim=1)) ** 2).mean()


def caption_loss(logits, captions, lengths, alphas, alpha_c: float = 1.0,
                 label_smoothing: float = 0.1):
    """Token cross-entropy (ignoring padding) + ``alpha_c`` x doubly stochastic penalty.

    Returns ``(total, cross_entropy)`` scalars.
    """
    targets = captions[:, 1:logits.size(1) + 1]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                         ignore_index=0, label_smoothing=label_smoothing)
    return ce + alpha_c * doubly_stochastic_penalty(alphas, lengths), ce
