"""Helpers for tests and demos: tiny random models and tiny datasets in each supported layout."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from .checkpoint import make_manifest, save_model
from .data import FLICKR_TOKENS, KAGGLE_CAPTIONS, KARPATHY_JSON, load_dataset
from .decoder import AttentionDecoder, DecoderConfig
from .vocab import Vocab

TINY_WORDS = ("a dog runs on the grass . a man rides a bike . two children play in the water . "
              "a woman in a red shirt is sitting on a bench .")


def tiny_decoder(vocab: Vocab, dim: int = 32, seed: int = 0) -> AttentionDecoder:
    """A randomly initialised decoder with small dims (fast, for tests)."""
    torch.manual_seed(seed)
    cfg = DecoderConfig(vocab_size=len(vocab), proj_dim=dim, embed_dim=dim, hidden_dim=dim,
                        attention_dim=dim, dropout=0.0)
    return AttentionDecoder(cfg).eval()


def tiny_model_dir(directory, dtype=torch.float32) -> Path:
    """Save a tiny random captioner to ``directory`` and return it."""
    vocab = Vocab.build([TINY_WORDS], min_freq=1)
    return save_model(directory, tiny_decoder(vocab), vocab, dtype=dtype,
                      manifest=make_manifest(label="tiny random test model"))


def make_layout(root, layout: str, source_dir, names: list[str], captions: dict[str, list[str]]) -> Path:
    """Copy ``names`` from ``source_dir`` into ``root`` in one of the three layouts; return root.

    - kaggle:   captions.txt + Images/
    - flickr8k: Flickr8k_text/Flickr8k.token.txt + Flicker8k_Dataset/
    - karpathy: dataset_flickr8k.json + Flicker8k_Dataset/
    """
    root = Path(root)
    images = root / ("Images" if layout == "kaggle" else "Flicker8k_Dataset")
    images.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copyfile(Path(source_dir) / n, images / n)
    if layout == "kaggle":
        lines = ["image,caption"] + [f"{n},{c}" for n in names for c in captions[n]]
        (root / KAGGLE_CAPTIONS).write_text("\n".join(lines) + "\n")
    elif layout == "flickr8k":
        (root / "Flickr8k_text").mkdir(exist_ok=True)
        lines = [f"{n}#{i}\t{c}" for n in names for i, c in enumerate(captions[n])]
        (root / "Flickr8k_text" / FLICKR_TOKENS).write_text("\n".join(lines) + "\n")
    elif layout == "karpathy":
        items = [{"filename": n, "split": "test", "sentences": [{"raw": c} for c in captions[n]]}
                 for n in names]
        (root / KARPATHY_JSON).write_text(json.dumps({"images": items, "dataset": "flickr8k"}))
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return root


def sample_dataset(n: int = 5, data_dir=None) -> tuple[Path, list[str], dict[str, list[str]]]:
    """The first ``n`` (sorted) images of the shared Flickr8k copy: ``(images_dir, names, captions)``."""
    images_dir, caps = load_dataset(data_dir)
    names = sorted(caps)[:n]
    return images_dir, names, {k: caps[k] for k in names}
