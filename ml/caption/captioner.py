"""Inference facade: load a model directory once, caption files / bytes / PIL images fast.

::

    cap = Captioner.from_dir("models/caption-flickr8k")
    out = cap.caption("dog.jpg", beam=3)
    out["caption"]            # "a black dog is running through the grass"
    out["beams"]              # [{"caption", "logprob", "score"}, ...] best first (n-best list)
    out["words"]              # ["a", "black", ...]
    out["attention"]          # one 7x7 list of weights per word, each summing to 1 (to 4 decimals)
    out["seconds"]            # wall time from input to caption
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..cpu import has_native_bf16
from .checkpoint import load_model
from .data import preprocess
from .decode import Hypothesis, decode
from .decoder import AttentionDecoder, TracedStep, quantize_int8
from .encoder import GRID, Encoder
from .vocab import Vocab

HEATMAP_DECIMALS = 4   # finer than a heatmap can show; full floats made a caption's JSON 3x longer to write and read


def heatmaps(alphas: torch.Tensor) -> list:
    """``(T, 49)`` attention weights -> T nested 7x7 lists, rounded to HEATMAP_DECIMALS (in float64, so each
    prints as its short decimal)."""
    return alphas.double().view(-1, GRID, GRID).round(decimals=HEATMAP_DECIMALS).tolist()


class Captioner:
    """Encoder + decoder + vocab in eval mode. Thread-compatible for reads; not re-entrant for set_*."""

    def __init__(self, encoder: Encoder, decoder: AttentionDecoder, vocab: Vocab, config: dict | None = None,
                 int8: bool | None = None, bf16_encoder: bool | None = None):
        """``int8``: int8 dynamic quantisation of the decoder (None = the model config's
        ``inference.int8_decoder``, which is only set when it was checked not to cost quality).
        ``bf16_encoder``: run MobileNetV2 under bf16 autocast (None = the config's
        ``inference.bf16_encoder``, and only on CPUs with native bf16, where it is ~30% faster)."""
        self.config = config or {}
        self.encoder = encoder.eval()
        inference = self.config.get("inference", {})
        if int8 is None:
            int8 = bool(inference.get("int8_decoder", False))
        self.int8 = int8
        if bf16_encoder is None:
            bf16_encoder = bool(inference.get("bf16_encoder", False)) and has_native_bf16()
        self.bf16_encoder = bf16_encoder
        self.trunk = encoder.inference_trunk(bf16=bf16_encoder)
        self.decoder = TracedStep(quantize_int8(decoder) if int8 else decoder.eval())
        self.vocab = vocab
        self.decode_options = dict(self.config.get("decode", {}))
        self.default_beam = int(self.decode_options.pop("beam", 3))
        self.manifest = self.config.get("manifest", {})

    @classmethod
    def from_dir(cls, path, num_threads: int | None = None, warmup: bool = True,
                 int8: bool | None = None, bf16_encoder: bool | None = None) -> "Captioner":
        """Load a model directory (see :mod:`ml.caption.checkpoint`); optionally set torch threads."""
        if num_threads:
            torch.set_num_threads(num_threads)
        encoder, decoder, vocab, config = load_model(Path(path))
        cap = cls(encoder, decoder, vocab, config, int8=int8, bf16_encoder=bf16_encoder)
        if warmup:
            cap.warmup()
        return cap

    def warmup(self) -> None:
        """One dummy pass so the first real request does not pay for lazy initialisation."""
        with torch.inference_mode():
            feats = self.encode(torch.zeros(1, 3, 224, 224))
            decode(self.decoder, feats, self.vocab, beam=2, max_len=2)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, 224, 224)`` -> ``(N, 49, 1280)``."""
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16_encoder):
            fmap = self.trunk(images.contiguous(memory_format=torch.channels_last))  # (N, 1280, 7, 7)
            return fmap.flatten(2).transpose(1, 2).float()

    def _result(self, hyps: list[Hypothesis], attention: bool) -> dict:
        best = hyps[0]
        words = [self.vocab.itos[i] for i in best.tokens]
        return {
            "caption": " ".join(words),
            "beams": [{"caption": " ".join(self.vocab.itos[i] for i in h.tokens),
                       "logprob": round(h.logprob, 4), "score": round(h.score, 4)} for h in hyps],
            "words": words,
            "attention": heatmaps(best.alphas) if attention else [],
        }

    def caption_batch(self, images, beam: int | None = None, attention: bool = True, **options) -> list[dict]:
        """Caption several images in one encoder pass and one (batched) beam search.

        ``images``: paths, bytes or PIL images. Raises ``ImageLoadError`` naming the bad input.
        Each result is as in :meth:`caption`; ``seconds`` is the batch time divided evenly.
        """
        t0 = time.perf_counter()
        beam = beam or self.default_beam
        batch = torch.stack([preprocess(im) for im in images])
        with torch.inference_mode():
            feats = self.encode(batch)
            hyps = decode(self.decoder, feats, self.vocab, beam=beam, **{**self.decode_options, **options})
        results = [self._result(h, attention) for h in hyps]
        per_image = (time.perf_counter() - t0) / max(1, len(results))
        for r in results:
            r["seconds"] = per_image
        return results

    def caption(self, image, beam: int | None = None, attention: bool = True, **options) -> dict:
        """Caption one image (path, bytes or PIL image).

        Returns ``{"caption": str, "beams": [{"caption", "logprob", "score"}], "words": [str],
        "attention": [7x7 floats per word], "seconds": float}``.
        """
        return self.caption_batch([image], beam=beam, attention=attention, **options)[0]
