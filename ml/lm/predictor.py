"""Inference API for the web app: next-word suggestions, sampling and an inspector view.

    p = NextWordPredictor.from_dir("models/lm-ptb-lstm")
    p.suggest("the stock market", k=5)      # [{"word": "'s", "prob": 0.08}, ...]
    p.sample("the stock market", n_words=20, temperature=0.8, top_k=40, seed=0)
    p.inspect("the stock market")           # tokens, per-token gate means and hidden norms
    p.target_rank("she speaks", "japanese")  # {"word": "japanese", "rank": 12, "prob": 0.004}

Every prompt is tokenised with the model's vocab (ml.lm.tokenizer), prefixed with ``<eos>`` (a
prompt starts a sentence, as every training sentence follows an ``<eos>``) and cut to its last
``max_context`` tokens, so a 10,000-character prompt costs no more than a 256-token one.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoint import load_model_dir, read_json
from .detokenize import display_token, to_model_text
from .inspect import step_through
from .model import RNNModel, quantize_int8
from .tokenizer import EOS, UNK, Vocab, is_punct_token, tokenize


class NextWordPredictor:
    """Wraps a trained RNNModel + Vocab. Thread-compatible for reads (no state kept between calls).

    With ``int8`` (the default) suggestions and samples run on an int8 copy of the model (see
    ``quantize_int8``); the gate inspector always steps through the float32 weights.
    """

    max_context = 256          # tokens kept from the end of a prompt
    max_inspect_tokens = 120   # the inspector plots one column per token

    def __init__(self, model: RNNModel, vocab: Vocab, config: dict | None = None, metrics: dict | None = None,
                 int8: bool = True):
        self.model = model.eval()
        self.fast_model = quantize_int8(self.model) if int8 else self.model
        self.vocab = vocab
        self.config = config or {}
        self.metrics = metrics or {}
        self.special_ids = [vocab.unk_id, vocab.eos_id]

    @classmethod
    def from_dir(cls, path: str | Path, int8: bool = True) -> "NextWordPredictor":
        model, vocab, config = load_model_dir(path)
        mpath = Path(path) / "metrics.json"
        return cls(model, vocab, config, read_json(mpath) if mpath.is_file() else {}, int8=int8)

    # ---- helpers -----------------------------------------------------------------------------
    def tokens(self, text: str, limit: int | None = None) -> list[str]:
        """Prompt -> vocab tokens (last ``limit`` kept). ValueError when nothing readable is left."""
        if not isinstance(text, str):
            raise ValueError(f"prompt must be a string, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("prompt is empty")
        # Tokenise only the tail of huge prompts: enough characters for `limit` tokens and then some.
        limit = limit or self.max_context
        # Text copied from a sampled continuation shows numbers as a placeholder; the model reads N.
        toks = tokenize(to_model_text(text[-limit * 40:]), self.vocab)
        if not toks:
            raise ValueError("prompt has no words the model can read (only punctuation or symbols)")
        return toks[-limit:]

    def _ids(self, toks: list[str]) -> torch.Tensor:
        ids = self.vocab.encode(toks)
        if ids[0] != self.vocab.eos_id:
            ids = [self.vocab.eos_id] + ids
        return torch.tensor(ids, dtype=torch.long).unsqueeze(1)  # (T, 1)

    @torch.no_grad()
    def _run(self, ids: torch.Tensor, hidden=None):
        """ids (T, 1) -> log-probs of the next token (V,), hidden."""
        model = self.fast_model
        if hidden is None:
            hidden = model.init_hidden(1)
        # Only the last position's distribution is wanted: skip the 10k-way decoder for the others.
        x, hidden = model.features(ids, hidden)
        return torch.log_softmax(model.decoder(x[-1:, 0]).float()[0], dim=-1), hidden

    # ---- public API ------------------------------------------------------------------------------
    @torch.no_grad()
    def next_log_probs(self, text: str) -> torch.Tensor:
        """Full next-token distribution (V,) as log-probabilities (exact, full softmax)."""
        logp, _ = self._run(self._ids(self.tokens(text)))
        return logp

    @torch.no_grad()
    def next_log_probs_many(self, texts: list[str]) -> list:
        """Several prompts in one forward pass: for each, its (V,) log-probabilities or the ValueError that
        rejects it. Prompts are padded after their end (a left-to-right RNN never sees the padding of its own
        row), and each row's distribution is read at its own last token."""
        out, rows = [None] * len(texts), []
        for i, text in enumerate(texts):
            try:
                rows.append((i, self._ids(self.tokens(text))[:, 0]))
            except ValueError as exc:
                out[i] = exc
        if rows:
            ids = torch.nn.utils.rnn.pad_sequence([seq for _, seq in rows], padding_value=self.vocab.eos_id)
            lengths = torch.tensor([len(seq) for _, seq in rows])
            model = self.fast_model
            x, _ = model.features(ids, model.init_hidden(len(rows)))          # (T, B, E)
            last = x[lengths - 1, torch.arange(len(rows))]                     # (B, E)
            logp = torch.log_softmax(model.decoder(last).float(), dim=-1)      # (B, V)
            for (i, _), row in zip(rows, logp):
                out[i] = row
        return out

    def suggest_many(self, requests: list[dict]) -> list:
        """``suggest`` (and, with "target", ``suggest_with_target``) for many prompts in one forward pass.

        ``requests``: [{"text", "k", "target"?}] -> per request ``(words, target rank or None)`` or the
        ValueError that rejects it (a bad prompt fails alone)."""
        answers = []
        for request, logp in zip(requests, self.next_log_probs_many([r["text"] for r in requests])):
            try:
                if isinstance(logp, ValueError):
                    raise logp
                self._check_k(request["k"])
                logp = self._suggestable(logp)
                target = self._rank(logp, request["target"]) if request.get("target") else None
                answers.append((self._top_words(logp, request["k"]), target))
            except ValueError as exc:
                answers.append(exc)
        return answers

    @torch.no_grad()
    def suggest(self, text: str, k: int = 5, include_special: bool = False) -> list[dict]:
        """Top-k next words: [{"word": str, "prob": float}], most probable first.

        Probabilities are the model's own (not renormalised after hiding <unk>/<eos>)."""
        self._check_k(k)
        return self._top_words(self._suggestable(self.next_log_probs(text), include_special), k)

    @torch.no_grad()
    def target_rank(self, text: str, word: str) -> dict:
        """Where ``word`` ranks as the next word: {"word", "rank", "prob"}; rank 1 = the top suggestion.

        Ranked among the words that can be suggested (not <unk>/<eos>), with the model's own probability.
        A word outside the vocabulary gets rank and prob None and a "note" saying why."""
        return self._rank(self._suggestable(self.next_log_probs(text)), word)

    @torch.no_grad()
    def suggest_with_target(self, text: str, k: int, word: str) -> tuple[list[dict], dict]:
        """``suggest(text, k)`` and ``target_rank(text, word)`` from one forward pass."""
        self._check_k(k)
        logp = self._suggestable(self.next_log_probs(text))
        return self._top_words(logp, k), self._rank(logp, word)

    def _check_k(self, k) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= len(self.vocab):
            raise ValueError(f"k must be an integer in [1, {len(self.vocab)}], got {k!r}")

    def _suggestable(self, logp: torch.Tensor, include_special: bool = False) -> torch.Tensor:
        """(V,) log-probabilities with <unk>/<eos> at -inf unless asked for: the words a visitor may see."""
        logp = logp.clone()
        if not include_special:
            logp[self.special_ids] = -math.inf
        return logp

    def _top_words(self, logp: torch.Tensor, k: int) -> list[dict]:
        top = torch.topk(logp, min(k, int(torch.isfinite(logp).sum())))
        return [{"word": self.vocab.itos[i], "prob": float(math.exp(v))}
                for v, i in zip(top.values.tolist(), top.indices.tolist())]

    def _rank(self, logp: torch.Tensor, word: str) -> dict:
        if not isinstance(word, str) or not word.strip():
            raise ValueError("target must be a non-empty word")
        token = self._target_token(word)
        if token is None:
            return {"word": word.strip(), "rank": None, "prob": None,
                    "note": f"'{word.strip()}' is not in this model's vocabulary, so it can never predict it."}
        target = logp[self.vocab.stoi[token]]
        return {"word": token, "rank": int((logp > target).sum()) + 1, "prob": float(target.exp())}

    def _target_token(self, word: str) -> str | None:
        """The vocab token a typed target word stands for, or None when the model cannot say it."""
        toks = [t for t in tokenize(to_model_text(word), newline_eos=False) if not is_punct_token(t)]
        if len(toks) != 1 or toks[0] not in self.vocab or self.vocab.stoi[toks[0]] in self.special_ids:
            return None
        return toks[0]

    @torch.no_grad()
    def sample(self, text: str, n_words: int = 20, temperature: float = 1.0, top_k: int = 40,
               seed: int | None = None) -> list[str]:
        """Continue the prompt with ``n_words`` sampled tokens (``<unk>`` never; ``<eos>`` may appear and
        marks a sentence end). ``top_k=0`` samples from the whole vocabulary; a top_k above the vocab
        size is clamped."""
        if not isinstance(n_words, int) or not 1 <= n_words <= 1000:
            raise ValueError(f"n_words must be an integer in [1, 1000], got {n_words!r}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and 0 < temperature <= 10):
            raise ValueError(f"temperature must be in (0, 10], got {temperature!r}")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}")
        top_k = min(top_k, len(self.vocab) - len(self.special_ids))
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        logp, hidden = self._run(self._ids(self.tokens(text)))
        out: list[str] = []
        for _ in range(n_words):
            logits = logp / temperature
            logits[self.vocab.unk_id] = -math.inf
            if top_k:
                kth = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < kth, -math.inf)
            nxt = int(torch.multinomial(F.softmax(logits, -1), 1, generator=gen))
            out.append(self.vocab.itos[nxt])
            logp, hidden = self._run(torch.tensor([[nxt]]), hidden)
        return out

    @torch.no_grad()
    def inspect(self, text: str) -> dict:
        """Per-token internals for plotting (last ``max_inspect_tokens`` tokens of the prompt).

        Returns {"tokens": [str] (T), "labels": [how each token is shown] (T), "cell": str, "layers": L,
                 "gates": {name: [[mean activation per layer] per token]}  (T x L lists;
                          LSTM: forget/input/output, GRU: reset/update, vanilla RNN: {}),
                 "gate_units": {name: [[first 32 units of the last layer] per token]},
                 "hidden_norm": [[L2 norm of h_t per layer] per token]  (T x L),
                 "cell_norm": same for the LSTM cell state (LSTM only),
                 "token_prob": [p(token_t | tokens before t)] (T; the first token is read after <eos>),
                 "next": top-5 suggestions after the last token}.
        """
        toks = self.tokens(text, self.max_inspect_tokens)
        ids = self._ids(toks)[:, 0]
        r = step_through(self.model, ids)
        off = ids.numel() - len(toks)  # 1 when <eos> was prepended
        logp = F.log_softmax(r["logits"].float(), -1)

        def per_token(tensors):  # list over layers of (T', H) -> T x L lists
            return [[round(float(t[j]), 4) for t in tensors] for j in range(off, ids.numel())]

        gates = {k: per_token([v.mean(1) for v in vs]) for k, vs in r["gates"].items() if k != "candidate"}
        units = {k: [[round(float(u), 3) for u in vs[-1][j, :32]] for j in range(off, ids.numel())]
                 for k, vs in r["gates"].items() if k != "candidate"}
        token_prob = [float(logp[j - 1, ids[j]].exp()) for j in range(off, ids.numel())] if off else \
            [None] + [float(logp[j - 1, ids[j]].exp()) for j in range(1, ids.numel())]
        nxt = torch.topk(logp[-1].clone().index_fill_(0, torch.tensor(self.special_ids), -math.inf), 5)
        out = {"tokens": toks, "labels": [display_token(t) for t in toks], "cell": self.model.cell,
               "layers": self.model.nlayers, "gates": gates,
               "gate_units": units, "hidden_norm": per_token([h.norm(dim=1) for h in r["hidden"]]),
               "token_prob": token_prob,
               "next": [{"word": self.vocab.itos[i], "prob": float(math.exp(v))}
                        for v, i in zip(nxt.values.tolist(), nxt.indices.tolist())]}
        if r["cell"]:
            out["cell_norm"] = per_token([c.norm(dim=1) for c in r["cell"]])
        return out


__all__ = ["NextWordPredictor", "EOS", "UNK"]
