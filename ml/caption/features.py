"""On-disk cache of frozen encoder features so CPU training never re-runs MobileNetV2.

Layout of one cache (``var/cache/caption-features/<key>/``)::

    features.npy   float16 (N, 49, 1280) memory-mappable array (~125 KB per image)
    names.json     ["img1.jpg", ...]  row i of features.npy is names[i]
    progress.json  {"done": n}        rows already written (so an interrupted run resumes)

``key`` hashes the encoder weights, the preprocessing version and the image list, so a change to
any of them gives a fresh cache instead of silently stale features.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .data import preprocess
from .encoder import FEATURE_DIM, GRID, Encoder, imagenet_weights_sha256

PREPROCESS_VERSION = "exif-rgb-resize224-bilinear-imagenet-v1"


def default_cache_root() -> Path:
    return Path(__file__).resolve().parents[2] / "var" / "cache" / "caption-features"


def cache_key(names: list[str], images_dir: Path) -> str:
    h = hashlib.sha256()
    h.update(imagenet_weights_sha256().encode())
    h.update(PREPROCESS_VERSION.encode())
    h.update(str(Path(images_dir).resolve()).encode())
    h.update("\n".join(names).encode())
    return h.hexdigest()[:16]


class FeatureCache:
    """Read access to a finished cache: ``cache[name] -> (49, 1280) float16 array``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.names: list[str] = json.loads((self.directory / "names.json").read_text())
        self.index = {n: i for i, n in enumerate(self.names)}
        self.array = np.load(self.directory / "features.npy", mmap_mode="r")

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def __getitem__(self, name: str) -> np.ndarray:
        return self.array[self.index[name]]

    def stack(self, names: list[str]) -> torch.Tensor:
        """Load ``names`` into RAM -> float16 tensor ``(len(names), 49, 1280)``."""
        rows = np.asarray([self.index[n] for n in names])
        order = np.argsort(rows)  # sequential reads from the memmap, then restore order
        out = np.empty((len(rows), GRID * GRID, FEATURE_DIM), dtype=np.float16)
        out[order] = self.array[rows[order]]
        return torch.from_numpy(out)


def build_cache(images_dir, names: list[str], cache_root=None, batch_size: int = 32,
                on_progress: Callable[[dict], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> FeatureCache:
    """Encode every image in ``names`` (resuming a partial cache) and return the cache."""
    images_dir = Path(images_dir)
    names = sorted(names)
    directory = Path(cache_root or default_cache_root()) / cache_key(names, images_dir)
    directory.mkdir(parents=True, exist_ok=True)
    progress_file = directory / "progress.json"
    shape = (len(names), GRID * GRID, FEATURE_DIM)
    done = json.loads(progress_file.read_text())["done"] if progress_file.exists() else 0
    if done == 0 or not (directory / "features.npy").exists():
        (directory / "names.json").write_text(json.dumps(names))
        arr = np.lib.format.open_memmap(directory / "features.npy", "w+", np.float16, shape)
        done = 0
    else:
        arr = np.load(directory / "features.npy", mmap_mode="r+")
    if done < len(names):
        _encode_into(arr, images_dir, names, done, batch_size, progress_file, on_progress, should_stop)
    return FeatureCache(directory)


def _encode_into(arr, images_dir, names, done, batch_size, progress_file, on_progress, should_stop):
    encoder = Encoder(pretrained=True).eval().to(memory_format=torch.channels_last)
    t0 = time.time()
    with torch.inference_mode():
        for start in range(done, len(names), batch_size):
            if should_stop and should_stop():
                break
            chunk = names[start:start + batch_size]
            images = torch.stack([preprocess(images_dir / n) for n in chunk])
            feats = encoder(images.contiguous(memory_format=torch.channels_last))
            arr[start:start + len(chunk)] = feats.to(torch.float16).numpy()
            arr.flush()
            progress_file.write_text(json.dumps({"done": start + len(chunk)}))
            if on_progress:
                on_progress({"stage": "features", "done": start + len(chunk), "total": len(names),
                             "seconds": round(time.time() - t0, 1)})
