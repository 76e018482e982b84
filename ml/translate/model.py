"""The encoder-decoder: a bidirectional GRU reads the source; a GRU decoder writes the target, looking back at
every source position through Luong's "general" attention, or (``attention="none"``) at one fixed vector, the
encoder's summary of the whole sentence (Cho et al. 2014), which is what attention was invented to fix.

Shapes: B batch, S source positions, T target positions, E embedding, H encoder width per direction,
C = 2H the encoder's output (context) width, D the decoder width, V a vocabulary.

At decoder step t, with ``y`` the previous target piece and ``h~`` the previous attentional vector::

    s_t   = GRU([emb(y); h~_{t-1}], s_{t-1})            # input feeding: the last step's h~ goes back in
    a_t   = softmax(s_t W enc_s over source s)         # attention weights (B, S), padding masked
    c_t   = sum_s a_t[s] enc_s                          # context (B, C)
    h~_t  = tanh(W_c [c_t; s_t])                        # (B, E): E wide so the output layer can share emb
    p(y_t) = softmax(h~_t emb^T + b)                    # tied output layer
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .data import PAD

ATTENTIONS = ("general", "none")


@dataclass
class ModelConfig:
    src_vocab: int
    tgt_vocab: int
    emb_dim: int = 256
    enc_hidden: int = 256         # per direction
    enc_layers: int = 1
    dec_hidden: int = 512
    attention: str = "general"    # "general" (Luong) or "none" (one fixed sentence vector)
    input_feed: bool = True       # feed the last attentional vector back into the decoder
    dropout: float = 0.3
    tie_weights: bool = True      # the output layer reuses the target embedding
    share_embeddings: bool = False  # one vocabulary for both languages: the encoder reuses it too

    def __post_init__(self):
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {self.attention!r}")
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError("share_embeddings needs one vocabulary: src_vocab must equal tgt_vocab")

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.src_vocab, cfg.emb_dim, padding_idx=PAD)
        self.rnn = nn.GRU(cfg.emb_dim, cfg.enc_hidden, cfg.enc_layers, batch_first=True, bidirectional=True,
                          dropout=cfg.dropout if cfg.enc_layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S), lengths (B,) -> outputs (B, S, C) (zeros past each length), summary (B, C): the last
        layer's final forward state beside its final backward state."""
        x = self.drop(self.embed(src))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        return self.drop(out), torch.cat([h[-2], h[-1]], dim=1)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        context = 2 * cfg.enc_hidden
        inputs = cfg.emb_dim + (cfg.emb_dim if cfg.input_feed else 0) + (context if cfg.attention == "none" else 0)
        self.embed = nn.Embedding(cfg.tgt_vocab, cfg.emb_dim, padding_idx=PAD)
        self.bridge = nn.Linear(context, cfg.dec_hidden)           # encoder summary -> first decoder state
        self.rnn = nn.GRU(inputs, cfg.dec_hidden, batch_first=True)
        if cfg.attention != "none":
            self.key = nn.Linear(context, cfg.dec_hidden, bias=False)   # W of the general score, applied once
        self.combine = nn.Linear(context + cfg.dec_hidden, cfg.emb_dim)
        self.out = nn.Linear(cfg.emb_dim, cfg.tgt_vocab)
        if cfg.tie_weights:
            self.out.weight = self.embed.weight
        self.drop = nn.Dropout(cfg.dropout)
        self.out_bf16 = None      # (weight, bias) in bf16 when serving on a CPU that multiplies bf16 natively

    def serve_output_in_bf16(self) -> None:
        """Inference only: the output layer (V x E, most of a decoding step's memory traffic) multiplies in bf16,
        half the bytes to read per step; the log-softmax stays float32."""
        self.out_bf16 = (self.out.weight.detach().to(torch.bfloat16), self.out.bias.detach().to(torch.bfloat16))

    def start(self, memory: torch.Tensor, summary: torch.Tensor, mask: torch.Tensor) -> dict:
        """Decoder state before the first piece: {"h" (1, B, D), "feed" (B, E), "keys" (B, S, D), "memory",
        "summary", "mask" (B, S) True at real source positions}."""
        batch = memory.size(0)
        return {"h": torch.tanh(self.bridge(summary)).unsqueeze(0),
                "feed": memory.new_zeros(batch, self.cfg.emb_dim),
                "keys": self.key(memory) if self.cfg.attention != "none" else None,
                "memory": memory, "summary": summary, "mask": mask}

    def attend(self, states: torch.Tensor, st: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """states (B, T, D) -> context (B, T, C), weights (B, T, S) (None without attention)."""
        if self.cfg.attention == "none":
            return st["summary"].unsqueeze(1).expand(-1, states.size(1), -1), None
        scores = states @ st["keys"].transpose(1, 2)
        scores = scores.masked_fill(~st["mask"].unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores.float(), dim=-1).to(states.dtype)
        return weights @ st["memory"], weights

    def inputs(self, y: torch.Tensor, feed: torch.Tensor | None, st: dict) -> torch.Tensor:
        """Previous pieces y (B, T), fed attentional vectors (B, T, E) or None -> the GRU's inputs (B, T, in)."""
        parts = [self.drop(self.embed(y))]
        if feed is not None:
            parts.append(feed)
        if self.cfg.attention == "none":   # the fixed vector goes in at every step (Cho et al.)
            parts.append(st["summary"].unsqueeze(1).expand(-1, y.size(1), -1))
        return torch.cat(parts, dim=-1)

    def output(self, states: torch.Tensor, st: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """states (B, T, D) -> logits (B, T, V), attentional vectors (B, T, E), weights (B, T, S) or None."""
        context, weights = self.attend(states, st)
        attentional = torch.tanh(self.combine(torch.cat([context, states], dim=-1)))
        if self.out_bf16 is not None and not self.training:
            logits = F.linear(attentional.to(torch.bfloat16), *self.out_bf16).float()
        else:
            logits = self.out(self.drop(attentional))
        return logits, attentional, weights

    def forward(self, y: torch.Tensor, st: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: decoder inputs y (B, T) -> logits (B, T, V), weights (B, T, S) or None."""
        if not self.cfg.input_feed:       # every step's input is known: one GRU call for the whole sequence
            states, _ = self.rnn(self.inputs(y, None, st), st["h"])
            logits, _, weights = self.output(states, st)
            return logits, weights
        logits, weights = [], []
        for t in range(y.size(1)):
            step_logits, step_weights, st = self.step(y[:, t], st)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, 1), (torch.stack(weights, 1) if weights[0] is not None else None)

    def step(self, y: torch.Tensor, st: dict) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """One piece y (B,) -> logits (B, V), weights (B, S) or None, the next state."""
        x = self.inputs(y.unsqueeze(1), st["feed"].unsqueeze(1) if self.cfg.input_feed else None, st)
        # One step through the GRU's own weights as a cell: the same arithmetic as self.rnn(x, h), without the
        # sequence machinery that costs more than the step itself when decoding one piece at a time.
        h = torch.gru_cell(x[:, 0], st["h"][0], self.rnn.weight_ih_l0, self.rnn.weight_hh_l0, self.rnn.bias_ih_l0,
                           self.rnn.bias_hh_l0).unsqueeze(0)
        states = h.transpose(0, 1)
        logits, attentional, weights = self.output(states, st)
        return logits[:, 0], (weights[:, 0] if weights is not None else None), {**st, "h": h,
                                                                                 "feed": attentional[:, 0]}


class Seq2Seq(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        if cfg.share_embeddings:   # a joint vocabulary: names and numbers keep one vector on both sides
            self.encoder.embed = self.decoder.embed

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> dict:
        """src (B, S), lengths (B,) -> the decoder's start state."""
        memory, summary = self.encoder(src, lengths)
        mask = torch.arange(src.size(1), device=src.device).unsqueeze(0) < lengths.unsqueeze(1)
        return self.decoder.start(memory, summary, mask)

    def forward(self, src, lengths, y) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> logits (B, T, V), attention weights (B, T, S) or None."""
        return self.decoder(y, self.encode(src, lengths))


def translation_loss(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """Mean label-smoothed cross-entropy over real target pieces: logits (B, T, V), target (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1), ignore_index=PAD,
                           label_smoothing=label_smoothing)
