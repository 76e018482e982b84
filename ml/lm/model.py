"""Word-level recurrent language model with a selectable cell.

Shape conventions (as in pytorch/examples word_language_model):
    T = sequence length (time), B = batch, V = vocabulary size,
    E = embedding size, H = hidden size, L = number of layers.
Inputs are time-major: LongTensor (T, B).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
INITS = ("xavier", "orthogonal", "default")


class LockedDropout(nn.Module):
    """Variational (locked) dropout: one mask per sequence, shared over time (Gal & Ghahramani 2016).

    x: (T, B, D) -> (T, B, D). Identity in eval mode or when p == 0.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(1, x.size(1), x.size(2)).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class RNNModel(nn.Module):
    """Embedding -> L recurrent layers (fused nn.RNN/nn.LSTM/nn.GRU, one module per layer) -> decoder.

    Each layer is its own fused module so locked dropout can sit between layers.
    The decoder is a plain Linear over the full vocabulary, so exact probabilities
    for every word are one softmax away (suggestions need them).

    Args:
        ntoken: vocabulary size V.
        cell: 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru'.
        emsize: embedding size E.
        nhid: hidden size H.
        nlayers: number of recurrent layers L (>= 1).
        dropout_emb: locked dropout on embeddings.
        dropout_hid: locked dropout between recurrent layers.
        dropout_out: locked dropout on the last layer output, before the decoder.
        tie_weights: share the embedding and decoder matrices (Press & Wolf 2017); needs the
            last layer to output E units, so the last layer's hidden size becomes E.
        init: 'xavier' | 'orthogonal' | 'default' (PyTorch's own init).
        dropout_weight: DropConnect on the hidden-to-hidden matrices (AWD-LSTM's weight drop): one mask per
            forward pass, so the fused kernels still run; 0 disables it.
        subword_ngrams: number of character n-grams (ml.lm.subwords) whose vectors are added to each word's
            embedding, 0 for none; needs tied weights and ``set_subwords`` before use.
    """

    def __init__(self, ntoken: int, cell: str = "lstm", emsize: int = 650, nhid: int = 650,
                 nlayers: int = 2, dropout_emb: float = 0.5, dropout_hid: float = 0.3,
                 dropout_out: float = 0.5, tie_weights: bool = True, init: str = "xavier",
                 dropout_weight: float = 0.0, subword_ngrams: int = 0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if ntoken < 2 or emsize < 1 or nhid < 1 or nlayers < 1:
            raise ValueError(f"bad sizes: ntoken={ntoken} emsize={emsize} nhid={nhid} nlayers={nlayers}")
        for name, p in (("dropout_emb", dropout_emb), ("dropout_hid", dropout_hid), ("dropout_out", dropout_out),
                        ("dropout_weight", dropout_weight)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.cell, self.ntoken, self.emsize, self.nhid, self.nlayers = cell, ntoken, emsize, nhid, nlayers
        if subword_ngrams and not tie_weights:
            raise ValueError("subword_ngrams needs tie_weights: the n-grams build the one shared matrix")
        self.tie_weights, self.init, self.dropout_weight = tie_weights, init, dropout_weight
        self.subword_ngrams = subword_ngrams

        self.encoder = nn.Embedding(ntoken, emsize)
        self.drop_emb = LockedDropout(dropout_emb)
        self.drop_hid = LockedDropout(dropout_hid)
        self.drop_out = LockedDropout(dropout_out)
        self.rnns = nn.ModuleList(self._make_layer(self.layer_in(i), self.layer_out(i)) for i in range(nlayers))
        self.decoder = nn.Linear(self.layer_out(nlayers - 1), ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        if subword_ngrams:
            self.ngrams = nn.EmbeddingBag(subword_ngrams, emsize, mode="mean")
            # Rebuilt from the vocabulary (set_subwords), so not saved with the weights.
            self.register_buffer("ngram_ids", torch.zeros(0, dtype=torch.long), persistent=False)
            self.register_buffer("ngram_offsets", torch.zeros(ntoken, dtype=torch.long), persistent=False)
        self.reset_parameters()

    def set_subwords(self, ids: torch.Tensor, offsets: torch.Tensor) -> None:
        """Each word's n-gram ids (flat) and where each word's list starts (V,): ml.lm.subwords.ngram_table."""
        if offsets.numel() != self.ntoken:
            raise ValueError(f"n-gram offsets cover {offsets.numel()} words, the model has {self.ntoken}")
        first = self.ngram_ids.numel() == 0
        self.ngram_ids, self.ngram_offsets = ids, offsets
        if first:  # a fresh model (loading weights afterwards overwrites this anyway)
            self._zero_spelled_words()

    @torch.no_grad()
    def _zero_spelled_words(self) -> None:
        # A word with n-grams starts as their mean alone: its own vector only learns what its parts cannot
        # say, so a rare word is not left as mostly random noise.
        lengths = torch.diff(self.ngram_offsets, append=self.ngram_offsets.new_tensor([self.ngram_ids.numel()]))
        self.encoder.weight[lengths > 0] = 0.0

    def embedding_matrix(self) -> torch.Tensor:
        """(V, E): the word vectors the encoder looks up and the tied decoder scores against."""
        if not self.subword_ngrams:
            return self.encoder.weight
        return self.encoder.weight + self.ngrams(self.ngram_ids, self.ngram_offsets)

    def fold_subwords(self) -> "RNNModel":
        """A plain word model (no n-grams) with the same outputs: each word's vector summed once."""
        if not self.subword_ngrams:
            return self
        with torch.no_grad():
            weight = self.embedding_matrix().clone()
        folded = RNNModel(**{**self.config(), "subword_ngrams": 0})
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("ngrams.")}
        folded.load_state_dict({**state, "encoder.weight": weight, "decoder.weight": weight})
        return folded.train(self.training)

    def layer_in(self, i: int) -> int:
        return self.emsize if i == 0 else self.nhid

    def layer_out(self, i: int) -> int:
        # With tied weights the last layer must emit E units to match the shared matrix.
        return self.emsize if (self.tie_weights and i == self.nlayers - 1) else self.nhid

    def _make_layer(self, nin: int, nout: int) -> nn.Module:
        if self.cell == "lstm":
            return nn.LSTM(nin, nout)
        if self.cell == "gru":
            return nn.GRU(nin, nout)
        return nn.RNN(nin, nout, nonlinearity=self.cell.split("_")[1])

    def reset_parameters(self) -> None:
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        if not self.tie_weights:
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)
        if self.subword_ngrams:
            nn.init.uniform_(self.ngrams.weight, -initrange, initrange)
        if self.init == "default":
            return
        for rnn in self.rnns:
            gates = {"lstm": 4, "gru": 3}.get(self.cell, 1)
            for name, w in rnn.named_parameters():
                if name.startswith("bias"):
                    nn.init.zeros_(w)
                    if self.cell == "lstm" and name.startswith("bias_ih"):
                        # Forget-gate bias 1 so early gradients flow through the cell (Jozefowicz et al. 2015).
                        w.data[w.size(0) // 4: w.size(0) // 2].fill_(1.0)
                    continue
                # Initialise each gate's block separately so every gate gets a well-scaled matrix.
                for block in w.data.chunk(gates, 0):
                    if self.init == "orthogonal" and name.startswith("weight_hh"):
                        nn.init.orthogonal_(block)
                    else:
                        nn.init.xavier_uniform_(block)
            if self.cell == "rnn_relu":
                # ReLU RNNs explode unless the recurrent matrix starts near a contraction (IRNN-style, scaled).
                for name, w in rnn.named_parameters():
                    if name.startswith("weight_hh"):
                        nn.init.orthogonal_(w, gain=0.5)

    def init_hidden(self, bsz: int) -> list:
        """Zero state per layer: LSTM -> (h, c) each (1, B, H_l); others -> h (1, B, H_l)."""
        w = self.encoder.weight
        hidden = []
        for i in range(self.nlayers):
            h = w.new_zeros(1, bsz, self.layer_out(i))
            hidden.append((h, h.clone()) if self.cell == "lstm" else h)
        return hidden

    def features(self, input: torch.Tensor, hidden: list, weight: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, list]:
        """input (T, B) -> last-layer outputs (T, B, E_out) after output dropout, new hidden.
        ``weight`` is embedding_matrix() when the caller already has it."""
        weight = self.embedding_matrix() if weight is None else weight
        x = self.drop_emb(F.embedding(input, weight))
        new_hidden = []
        for i, rnn in enumerate(self.rnns):
            x, h = self._run_layer(rnn, x, hidden[i])
            new_hidden.append(h)
            if i != self.nlayers - 1:
                x = self.drop_hid(x)
        return self.drop_out(x), new_hidden

    def _run_layer(self, rnn: nn.Module, x: torch.Tensor, h):
        if not (self.training and self.dropout_weight > 0):
            return rnn(x, h)
        # Drop recurrent weights, not activations: the same mask for every time step of this window.
        params = dict(rnn.named_parameters())
        params["weight_hh_l0"] = F.dropout(params["weight_hh_l0"], self.dropout_weight, training=True)
        return torch.func.functional_call(rnn, params, (x, h))

    def decode(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Last-layer outputs (..., E_out) -> logits (..., V)."""
        if not self.subword_ngrams:
            return self.decoder(x)
        return F.linear(x, self.embedding_matrix() if weight is None else weight, self.decoder.bias)

    def forward(self, input: torch.Tensor, hidden: list) -> tuple[torch.Tensor, list]:
        """input (T, B) -> log-probabilities (T, B, V), new hidden."""
        weight = self.embedding_matrix()
        x, hidden = self.features(input, hidden, weight)
        return F.log_softmax(self.decode(x, weight).float(), dim=-1), hidden

    def loss(self, input: torch.Tensor, target: torch.Tensor, hidden: list) -> tuple[torch.Tensor, list]:
        """Mean token NLL. input, target (T, B) -> scalar loss, new hidden."""
        weight = self.embedding_matrix()
        x, hidden = self.features(input, hidden, weight)
        logits = self.decode(x, weight).float()
        return F.cross_entropy(logits.view(-1, self.ntoken), target.reshape(-1)), hidden

    def config(self) -> dict:
        """Everything needed to rebuild this module (dropouts included)."""
        return {
            "ntoken": self.ntoken, "cell": self.cell, "emsize": self.emsize, "nhid": self.nhid,
            "nlayers": self.nlayers, "dropout_emb": self.drop_emb.p, "dropout_hid": self.drop_hid.p,
            "dropout_out": self.drop_out.p, "tie_weights": self.tie_weights, "init": self.init,
            "dropout_weight": self.dropout_weight, "subword_ngrams": self.subword_ngrams,
        }


def repackage_hidden(h):
    """Detach hidden state from its history, so truncated BPTT stops at the window edge."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return type(h)(repackage_hidden(v) for v in h) if isinstance(h, tuple) else [repackage_hidden(v) for v in h]


def quantize_int8(model: RNNModel) -> RNNModel:
    """Inference copy of ``model`` with int8 LSTM/GRU layers and decoder (``ml.quantize.dynamic_int8``).

    A next-word suggestion gets several times faster on CPU for a perplexity change of a few hundredths
    (measured in docs/models.md). Vanilla nn.RNN layers have no quantised kernel and stay float32.
    """
    from ml.quantize import dynamic_int8

    return dynamic_int8(model, {nn.LSTM, nn.GRU, nn.Linear})
