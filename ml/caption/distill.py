"""Sequence-level knowledge distillation (Kim & Rush 2016, arXiv:1606.07947) for the captioner.

An ensemble of decoders captions better than any one of them, but it runs every member's LSTM at
every word, which the latency budget of one upload cannot afford. Instead the ensemble (the
teacher) captions the training images once, and a single decoder (the student) is trained on
those captions next to the human ones (``train_captioner --extra-captions FILE``) or instead of them
(``--extra-captions-only true``): it learns the teacher's consensus and decodes at the cost of one model.
(Measured in docs/models.md: from an SCST-trained student neither beat the start model.)

    python -m ml.caption.distill --teacher DIR --out var/distill/captions.json [--beam 3] [--nbest 1]

The output JSON is ``{"teacher": DIR, "beam": k, "nbest": n, "decode": {...},
"captions": {image name: [n captions, best first]}}`` for the training split's images.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from .checkpoint import load_model
from .data import default_data_dir, load_dataset, read_split, split_file
from .decode import decode
from .decoder import AttentionDecoder
from .ensemble import EnsembleDecoder
from .features import build_cache
from .vocab import Vocab


def teacher_captions(decoder: AttentionDecoder | EnsembleDecoder, vocab: Vocab, features: torch.Tensor,
                     names: list[str], beam: int = 3, nbest: int = 1, batch: int = 100,
                     **decode_options) -> dict[str, list[str]]:
    """Beam-search ``features (N, 49, 1280)`` of ``names`` -> ``{name: [nbest captions, best first]}``."""
    if not 1 <= nbest <= beam:
        raise ValueError(f"nbest must be between 1 and the beam width ({beam}), got {nbest}")
    out: dict[str, list[str]] = {}
    decoder.eval()
    with torch.inference_mode():
        for start in range(0, len(names), batch):
            chunk = features[start:start + batch].float()
            for name, hyps in zip(names[start:start + batch], decode(decoder, chunk, vocab, beam=beam,
                                                                     **decode_options)):
                out[name] = [" ".join(vocab.decode(h.tokens)) for h in hyps[:nbest]]
    return out


def load_extra_captions(path) -> dict[str, list[str]]:
    """Read a file written by :func:`main` (or any ``{"captions": {name: [str]}}`` JSON)."""
    data = json.loads(Path(path).read_text())
    captions = data.get("captions") if isinstance(data, dict) else None
    if not isinstance(captions, dict) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in captions.values()):
        raise ValueError(f"{path}: expected {{\"captions\": {{image name: [caption, ...]}}}}")
    return captions


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Caption the training images with a teacher model (ensemble).")
    p.add_argument("--teacher", required=True, help="model directory (usually an ensemble)")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--data", default=str(default_data_dir()), help="Flickr8k folder (any supported layout)")
    p.add_argument("--split", default=str(split_file("train")), help="file list of the images to caption")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--nbest", type=int, default=1, help="captions kept per image (best first)")
    p.add_argument("--cache-root", default=None)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.time()
    _, decoder, vocab, config = load_model(args.teacher)
    images_dir, caps = load_dataset(args.data)
    names = [n for n in read_split(args.split) if n in caps]
    # Same frozen-feature cache as training (same key: all the dataset's images), so no encoder pass.
    cache = build_cache(images_dir, sorted(caps), args.cache_root)
    options = {k: v for k, v in config.get("decode", {}).items() if k != "beam"}
    captions = teacher_captions(decoder, vocab, cache.stack(names), names, beam=args.beam, nbest=args.nbest,
                                **options)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"teacher": str(args.teacher), "beam": args.beam, "nbest": args.nbest,
                               "decode": options, "captions": captions}, indent=1))
    print(json.dumps({"out": str(out), "images": len(captions), "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
