"""A loaded translation model, ready to serve: text in, translation, n-best list and attention out.

    t = Translator.from_dir("models/translate-en-de")
    t.translate("A dog runs on the beach.", beam=5)
    # {"translation": "Ein Hund läuft am Strand.", "nbest": [{"text", "score"}, ...],
    #  "attention": {"source": ["▁A", "▁dog", ...], "target": ["▁Ein", ...], "weights": [[...], ...]} or None}
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..cpu import has_native_bf16
from . import checkpoint
from .data import EOS
from .decode import beam_search_many

MAX_BEAM = 10


class Translator:
    def __init__(self, model, source_sw, target_sw, config: dict, directory: str = "", bf16_output: bool | None = None):
        """``bf16_output``: serve the output layer in bf16 (default: where the CPU multiplies bf16 natively)."""
        self.model, self.source_sw, self.target_sw, self.config = model, source_sw, target_sw, config
        self.decode = config.get("decode") or checkpoint.DEFAULT_DECODE
        self.directory = directory
        if has_native_bf16() if bf16_output is None else bf16_output:
            model.decoder.serve_output_in_bf16()

    @classmethod
    def from_dir(cls, directory: str | Path) -> "Translator":
        model, source_sw, target_sw, config = checkpoint.load_model(directory)
        return cls(model, source_sw, target_sw, config, str(directory))

    @property
    def has_attention(self) -> bool:
        return self.model.cfg.attention != "none"

    def translate(self, text: str, beam: int | None = None, nbest: int | None = None) -> dict:
        """One sentence -> {"translation", "nbest": [{"text", "score"}], "attention"} (see the module doc)."""
        answer = self.translate_many([text], beam, nbest)[0]
        if isinstance(answer, ValueError):
            raise answer
        return answer

    def translate_many(self, texts: list[str], beam: int | None = None, nbest: int | None = None) -> list:
        """Several sentences in one batched beam search: per text, what translate() returns, or the ValueError
        that rejects it (an empty text fails alone)."""
        beam = max(1, min(MAX_BEAM, int(beam or self.decode["beam"])))
        answers, sources, rows = [None] * len(texts), [], []
        for i, text in enumerate(texts):
            text = " ".join(text.split())
            if not text:
                answers[i] = ValueError("text must not be empty")
                continue
            sources.append(self.source_sw.encode(text) + [EOS])
            rows.append(i)
        if sources:
            with torch.inference_mode():
                found = beam_search_many(self.model, sources, beam=beam, length_alpha=self.decode["length_alpha"],
                                         block_ngram=self.decode["block_ngram"], nbest=nbest or beam)
            for i, source, hypotheses in zip(rows, sources, found):
                answers[i] = self._answer(source, hypotheses)
        return answers

    def _answer(self, source: list[int], hypotheses) -> dict:
        best = hypotheses[0]
        attention = None
        if best.attention is not None:
            attention = {"source": self.source_sw.pieces(source[:-1]) + ["</s>"],
                         "target": self.target_sw.pieces(best.tokens) + ["</s>"],
                         "weights": [[round(w, 4) for w in row] for row in best.attention.tolist()]}
        return {"translation": self.target_sw.decode(best.tokens),
                "nbest": [{"text": self.target_sw.decode(h.tokens), "score": round(h.score, 4)}
                          for h in hypotheses],
                "attention": attention}
