"""Caption test data: tiny random models, dataset layouts, and a drawn image-caption set that needs no download."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from ml.caption.checkpoint import make_manifest, save_model
from ml.caption.data import FLICKR_TOKENS, KAGGLE_CAPTIONS, KARPATHY_JSON, load_dataset
from ml.caption.decoder import AttentionDecoder, DecoderConfig
from ml.caption.vocab import Vocab

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


COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 60, 220), "yellow": (240, 220, 40)}
BACKGROUNDS = {"white": (245, 245, 245), "black": (15, 15, 15), "grey": (128, 128, 128)}
SHAPES = ("circle", "square", "triangle")


def draw_scene(colour: str, shape: str, side: str, background: str, size: int = 112) -> Image.Image:
    """One coloured shape on the left or right half of a plain background."""
    img = Image.new("RGB", (size, size), BACKGROUNDS[background])
    draw = ImageDraw.Draw(img)
    x0 = size // 10 if side == "left" else size // 2 + size // 10
    box = (x0, size // 3, x0 + size * 3 // 10, size // 3 + size * 3 // 10)
    if shape == "circle":
        draw.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        draw.rectangle(box, fill=COLOURS[colour])
    else:
        draw.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=COLOURS[colour])
    return img


def scene_captions(colour: str, shape: str, side: str, background: str) -> list[str]:
    """Five captions in the voice of Flickr8k's annotators: same scene, different words."""
    return [f"a {colour} {shape} on the {side}",
            f"a {colour} {shape} on the {side} of a {background} background",
            f"there is a {colour} {shape} on the {side}",
            f"a {shape} that is {colour} on a {background} background",
            f"one {colour} {shape} sits on the {side} side"]


def synthetic_dataset(root, n: int = 36, seed: int = 0) -> tuple[Path, list[str], dict[str, list[str]]]:
    """Draw ``n`` captioned images in the Flickr8k (Kaggle) layout under ``root``: captions.txt + Images/.

    Returns ``(root, names, captions)``. Small and learnable (colour, shape, side and background are in
    every picture and its captions), so training, SCST, evaluation and export run for real in seconds.
    """
    root = Path(root)
    (root / "Images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    captions = {}
    for i in range(n):
        scene = (rng.choice(list(COLOURS)), rng.choice(SHAPES), rng.choice(("left", "right")),
                 rng.choice(list(BACKGROUNDS)))
        name = f"synthetic_{i:03d}.jpg"
        draw_scene(*scene).save(root / "Images" / name, quality=90)
        captions[name] = scene_captions(*scene)
    lines = ["image,caption"] + [f"{name},{c}" for name, caps in captions.items() for c in caps]
    (root / KAGGLE_CAPTIONS).write_text("\n".join(lines) + "\n")
    return root, sorted(captions), captions
