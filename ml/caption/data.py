"""Flickr8k loading and the one image preprocessing used by training, evaluation and inference.

Three on-disk layouts are understood (see :func:`detect_layout`):

- ``kaggle``:   ``captions.txt`` (CSV ``image,caption``) + ``Images/`` (or ``images/``)
- ``flickr8k``: ``Flickr8k.token.txt`` (``name.jpg#0<TAB>caption``) + ``Flicker8k_Dataset/``
- ``karpathy``: ``dataset_flickr8k.json`` (``{"images": [{"filename", "sentences": [{"raw"}]}]}``)

Preprocessing (:func:`load_image` + :func:`to_tensor`): EXIF-transpose, convert to RGB (alpha is
composited on white), resize the WHOLE image to 224x224 (no crop, aspect not kept -- the shared
training photos were made that way), ImageNet normalisation -> float tensor ``(3, 224, 224)``.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A 100 MP photo is already far beyond any camera a user uploads from; beyond it we refuse
# rather than let a decompression bomb eat the worker's memory.
MAX_PIXELS = 100_000_000
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}

KAGGLE_CAPTIONS = "captions.txt"
FLICKR_TOKENS = "Flickr8k.token.txt"
KARPATHY_JSON = "dataset_flickr8k.json"
IMAGE_DIR_NAMES = ("Images", "images", "Flicker8k_Dataset", "Flickr8k_Dataset")


class ImageLoadError(ValueError):
    """The input is not a readable image (corrupt, truncated, not an image, or too large)."""


class DatasetLayoutError(ValueError):
    """A dataset folder or captions file is in none of the known layouts."""


def default_data_dir() -> Path:
    """``$FLICKR8K_DIR`` or ``<repo>/../shared/data/flickr8k``."""
    env = os.environ.get("FLICKR8K_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flickr8k"


# --------------------------------------------------------------------------- images

def _open(src) -> Image.Image:
    """Open a path / bytes / file-like / PIL image without decoding pixels yet."""
    if isinstance(src, Image.Image):
        return src
    try:
        if isinstance(src, (bytes, bytearray, memoryview)):
            return Image.open(io.BytesIO(bytes(src)))
        if isinstance(src, (str, os.PathLike)):
            return Image.open(Path(src))
        if hasattr(src, "read"):
            return Image.open(src)
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"not a readable image: {_describe(src)} ({exc})") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"image too large: {_describe(src)} ({exc})") from exc
    raise TypeError(f"expected a path, bytes, file object or PIL image, got {type(src).__name__}")


def _describe(src) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    return f"<{type(src).__name__}>"


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency is composited on white so it does not turn black."""
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit / float grayscale: PIL's convert("RGB") clips instead of scaling.
        arr = np.asarray(img, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, P


def load_image(src, size: int = IMAGE_SIZE) -> Image.Image:
    """Decode, turn upright, convert to RGB and resize the whole image to ``size x size``.

    Raises :class:`ImageLoadError` for corrupt, truncated, non-image or oversized inputs and
    ``FileNotFoundError`` for a missing path.
    """
    img = _open(src)
    try:
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise ImageLoadError(f"image too large: {w}x{h} pixels (limit {MAX_PIXELS:,})")
        if img.format == "JPEG":
            # Let libjpeg decode big photos at 1/2..1/8 scale: a 4000x3000 upload then costs
            # milliseconds, and the target stays >= 2x the final size so quality is unchanged.
            img.draft("RGB", (2 * size, 2 * size))
        img = ImageOps.exif_transpose(img)
        img = _to_rgb(img)
        if img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR, reducing_gap=3.0)
        img.load()
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"corrupt or unsupported image: {_describe(src)} ({exc})") from exc
    return img


_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image ``(H, W)`` -> normalised float tensor ``(3, H, W)``."""
    arr = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())  # (H, W, 3)
    x = arr.permute(2, 0, 1).float().div_(255.0)
    return (x - _MEAN) / _STD


def preprocess(src, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Path / bytes / PIL image -> ``(3, size, size)`` normalised tensor (the one pipeline)."""
    return to_tensor(load_image(src, size))


# --------------------------------------------------------------------------- captions

def read_kaggle(path: Path) -> dict[str, list[str]]:
    """``captions.txt`` CSV with header ``image,caption`` -> {image name: [captions]}."""
    out: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or [h.strip().lower() for h in header[:2]] != ["image", "caption"]:
            raise DatasetLayoutError(f"{path}: expected a CSV header 'image,caption', got {header}")
        for row in reader:
            if len(row) >= 2 and row[0].strip():
                out.setdefault(row[0].strip(), []).append(",".join(row[1:]).strip())
    return out


def read_flickr_tokens(path: Path) -> dict[str, list[str]]:
    """``Flickr8k.token.txt`` (``name.jpg#k<TAB>caption``) -> {image name: [captions]}."""
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise DatasetLayoutError(f"{path}:{lineno}: expected 'name.jpg#k<TAB>caption'")
            key, caption = line.split("\t", 1)
            out.setdefault(key.split("#", 1)[0].strip(), []).append(caption.strip())
    return out


def read_karpathy(path: Path) -> dict[str, list[str]]:
    """Karpathy ``dataset_flickr8k.json`` -> {image name: [captions]}."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "images" not in data:
        raise DatasetLayoutError(f"{path}: expected a JSON object with an 'images' list")
    out: dict[str, list[str]] = {}
    for item in data["images"]:
        sents = [s.get("raw") or " ".join(s.get("tokens", [])) for s in item.get("sentences", [])]
        out[item["filename"]] = [s.strip() for s in sents if s and s.strip()]
    return out


READERS = {"kaggle": read_kaggle, "flickr8k": read_flickr_tokens, "karpathy": read_karpathy}


def sniff_format(captions_file: Path) -> str:
    """Guess the captions file format from its name, then from its first bytes."""
    name = captions_file.name.lower()
    if name.endswith(".json"):
        return "karpathy"
    if "token" in name:
        return "flickr8k"
    with open(captions_file, encoding="utf-8", errors="replace") as f:
        head = f.read(4096)
    if head.lstrip().startswith("{"):
        return "karpathy"
    first = head.splitlines()[0] if head else ""
    if first.lower().replace(" ", "").startswith("image,caption"):
        return "kaggle"
    if "\t" in first and "#" in first.split("\t", 1)[0]:
        return "flickr8k"
    raise DatasetLayoutError(f"cannot tell the format of {captions_file}; pass --format")


def read_captions(captions_file, fmt: str | None = None) -> dict[str, list[str]]:
    """Read any supported captions file -> {image file name: [reference captions]}."""
    path = Path(captions_file)
    if not path.is_file():
        raise FileNotFoundError(f"captions file not found: {path}")
    fmt = fmt or sniff_format(path)
    if fmt not in READERS:
        raise DatasetLayoutError(f"unknown format {fmt!r}; choose one of {sorted(READERS)}")
    return READERS[fmt](path)


def _find_images_dir(root: Path) -> Path:
    for name in IMAGE_DIR_NAMES:
        if (root / name).is_dir():
            return root / name
    return root


def detect_layout(root) -> tuple[str, Path, Path]:
    """Dataset folder -> ``(format, captions_file, images_dir)``.

    Looks for the captions file in ``root`` and ``root/Flickr8k_text`` and for the images in
    ``Images/``, ``images/``, ``Flicker8k_Dataset/`` or ``root`` itself.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    for folder in (root, root / "Flickr8k_text"):
        for fmt, name in (("kaggle", KAGGLE_CAPTIONS), ("flickr8k", FLICKR_TOKENS),
                          ("karpathy", KARPATHY_JSON)):
            if (folder / name).is_file():
                return fmt, folder / name, _find_images_dir(root)
    raise DatasetLayoutError(
        f"{root}: found none of {KAGGLE_CAPTIONS}, {FLICKR_TOKENS}, {KARPATHY_JSON}")


def load_dataset(root=None, images_dir=None, captions_file=None, fmt=None,
                 require_images: bool = True) -> tuple[Path, dict[str, list[str]]]:
    """Resolve a dataset -> ``(images_dir, {image name: [captions]})``.

    Give either ``root`` (auto-detected layout) or ``images_dir`` + ``captions_file``.
    Captions whose image file is missing are dropped when ``require_images``.
    """
    if captions_file is None:
        fmt_found, captions_file, found_images = detect_layout(root or default_data_dir())
        fmt = fmt or fmt_found
        images_dir = Path(images_dir) if images_dir else found_images
    elif images_dir is None:
        images_dir = _find_images_dir(Path(captions_file).parent)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"images folder not found: {images_dir}")
    caps = read_captions(captions_file, fmt)
    if require_images:
        present = {p.name for p in images_dir.iterdir()}
        caps = {k: v for k, v in caps.items() if k in present}
    if not caps:
        raise DatasetLayoutError(f"no captioned images found in {images_dir} for {captions_file}")
    return images_dir, caps


# --------------------------------------------------------------------------- splits

SPLITS_DIR = Path(__file__).resolve().parent / "splits"


def read_split(path) -> list[str]:
    """One image file name per line; blank lines and ``#`` comments ignored."""
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def split_file(name: str, dataset: str = "flickr8k") -> Path:
    """Path of a shipped split list, e.g. ``split_file("test")``."""
    return SPLITS_DIR / f"{dataset}_{name}.txt"


def make_splits(names, n_val: int = 500, n_test: int = 500, seed: int = 8) -> dict[str, list[str]]:
    """Deterministic shuffle of sorted names -> {"train", "val", "test"} lists (each sorted)."""
    names = sorted(names)
    order = np.random.default_rng(seed).permutation(len(names))
    shuffled = [names[i] for i in order]
    return {
        "test": sorted(shuffled[:n_test]),
        "val": sorted(shuffled[n_test:n_test + n_val]),
        "train": sorted(shuffled[n_test + n_val:]),
    }
