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


def cache_key(names: list[str], images_dir: Path, upto_block: int = 19, hflip: bool = False) -> str:
    h = hashlib.sha256()
    if upto_block != 19:
        h.update(f"upto_block={upto_block}".encode())
    if hflip:
        h.update(b"hflip")
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

    def progress_done(self) -> int:
        """Rows written so far (all of them once the cache is complete)."""
        progress = self.directory / "progress.json"
        return json.loads(progress.read_text())["done"] if progress.exists() else len(self.names)

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def __getitem__(self, name: str) -> np.ndarray:
        return self.array[self.index[name]]

    def stack(self, names: list[str]) -> torch.Tensor:
        """Load ``names`` into RAM -> float16 tensor ``(len(names), 49, 1280)``."""
        rows = np.asarray([self.index[n] for n in names])
        order = np.argsort(rows)  # sequential reads from the memmap, then restore order
        out = np.empty((len(rows), *self.array.shape[1:]), dtype=np.float16)
        out[order] = self.array[rows[order]]
        return torch.from_numpy(out)


def build_cache(images_dir, names: list[str], cache_root=None, batch_size: int = 32,
                on_progress: Callable[[dict], None] | None = None,
                should_stop: Callable[[], bool] | None = None, upto_block: int = 19,
                hflip: bool = False) -> FeatureCache:
    """Encode every image in ``names`` (resuming a partial cache) and return the cache.

    ``hflip`` caches the features of the mirrored images (training augmentation).

    ``upto_block < 19`` caches the output of MobileNetV2 block ``upto_block - 1`` instead,
    ``(N, C, 7, 7)`` (C = 160 for 17), so the last blocks can be fine-tuned without re-running the trunk.
    """
    images_dir = Path(images_dir)
    names = sorted(names)
    directory = Path(cache_root or default_cache_root()) / cache_key(names, images_dir, upto_block, hflip)
    directory.mkdir(parents=True, exist_ok=True)
    progress_file = directory / "progress.json"
    shape = (len(names), GRID * GRID, FEATURE_DIM) if upto_block == 19 else (len(names), *_partial_shape(upto_block))
    done = json.loads(progress_file.read_text())["done"] if progress_file.exists() else 0
    if done == 0 or not (directory / "features.npy").exists():
        (directory / "names.json").write_text(json.dumps(names))
        arr = np.lib.format.open_memmap(directory / "features.npy", "w+", np.float16, shape)
        done = 0
        progress_file.write_text(json.dumps({"done": 0}))
    else:
        arr = np.load(directory / "features.npy", mmap_mode="r+")
    if done < len(names):
        _encode_into(arr, images_dir, names, done, batch_size, progress_file, on_progress, should_stop,
                     upto_block, hflip)
    return FeatureCache(directory)


def _partial_shape(upto_block: int) -> tuple[int, ...]:
    with torch.inference_mode():
        return tuple(Encoder(pretrained=False).features[:upto_block](torch.zeros(1, 3, 224, 224)).shape[1:])


def _encode_into(arr, images_dir, names, done, batch_size, progress_file, on_progress, should_stop,
                 upto_block=19, hflip=False):
    encoder = Encoder(pretrained=True).eval().to(memory_format=torch.channels_last)
    trunk = encoder.features[:upto_block]
    t0 = time.time()
    with torch.inference_mode():
        for start in range(done, len(names), batch_size):
            if should_stop and should_stop():
                break
            chunk = names[start:start + batch_size]
            images = torch.stack([preprocess(images_dir / n) for n in chunk])
            if hflip:
                images = images.flip(-1)
            feats = trunk(images.contiguous(memory_format=torch.channels_last))
            if upto_block == 19:
                feats = feats.flatten(2).transpose(1, 2)  # (B, 49, 1280)
            arr[start:start + len(chunk)] = feats.to(torch.float16).numpy()
            arr.flush()
            progress_file.write_text(json.dumps({"done": start + len(chunk)}))
            if on_progress:
                on_progress({"event": "features", "done": start + len(chunk), "total": len(names),
                             "seconds": round(time.time() - t0, 1)})
