"""A captioning model version is a DIRECTORY; loading it never unpickles anything.

::

    weights.safetensors   decoder.* tensors (float16 by default) and, only when the encoder was
                          fine-tuned, encoder.features.<i>.* of the fine-tuned blocks; the frozen
                          rest of the encoder is the ImageNet file referenced in config.json
    config.json           {"format_version", "manifest", "decoder": DecoderConfig,
                           "encoder": {"arch", "weights", "weights_sha256", "fine_tune_blocks"},
                           "decode": {"beam", "max_len", "length_alpha", "block_ngram"},
                           "inference": {"int8_decoder", "bf16_encoder"}, "preprocess"}
    vocab.json            {"itos": [...], "min_freq", "counts"}
    metrics.json          {"val": {...}, "test": {...}, "command": "...", ...}
    unroll.json           manifest read by the web app's model registry:
                          {"kind": "caption", "slot": "flickr8k", "label": "...", "name", "files", ...}

The manifest is also embedded in config.json under ``"manifest"``. A run directory holds two of them,
last/ (with the resumable state, see ml.training) and best/.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..training.checkpoint import atomic_dir
from .decoder import AttentionDecoder, DecoderConfig
from .encoder import WEIGHTS_REF, Encoder, imagenet_weights_sha256
from .features import PREPROCESS_VERSION
from .vocab import Vocab

FORMAT_VERSION = 1
MANIFEST_NAME = "unroll.json"
FILES = ["weights.safetensors", "config.json", "vocab.json", "metrics.json"]
DEFAULT_DECODE = {"beam": 3, "max_len": 20, "length_alpha": 0.7, "block_ngram": 3}


class CheckpointError(ValueError):
    """A model directory is missing files or does not match this code."""


def make_manifest(slot: str = "flickr8k", label: str | None = None, **extra) -> dict:
    return {"kind": "caption", "slot": slot,
            "label": label or "Show, Attend and Tell captioner (MobileNetV2 + LSTM, Flickr8k)",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}


def save_model(directory, decoder: AttentionDecoder, vocab: Vocab, encoder: Encoder | None = None,
               metrics: dict | None = None, manifest: dict | None = None,
               decode: dict | None = None, inference: dict | None = None,
               dtype=torch.float16) -> Path:
    """Write a model directory, replacing ``directory`` whole (see ml.training.checkpoint.atomic_dir)."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        write_model_files(tmp, directory.name, decoder, vocab, encoder, metrics, manifest, decode, inference, dtype)
    return directory


def write_model_files(directory: Path, name: str, decoder: AttentionDecoder, vocab: Vocab,
                      encoder: Encoder | None = None, metrics: dict | None = None, manifest: dict | None = None,
                      decode: dict | None = None, inference: dict | None = None, dtype=torch.float16) -> None:
    """The files of a model directory called ``name``, written into the existing ``directory``."""
    state = decoder.state_dict()
    if decoder.cfg.tie_weights:
        state.pop("fc.weight")  # same storage as embedding.weight; safetensors refuses aliases
    tensors = {f"decoder.{k}": v.detach().to(dtype).contiguous() for k, v in state.items()}
    fine_tune = encoder.fine_tune_blocks if encoder is not None else 0
    if fine_tune:
        tensors.update({f"encoder.{k}": (v.to(dtype) if v.is_floating_point() else v).contiguous()
                        for k, v in encoder.trainable_state_dict().items()})
    manifest = {**(manifest or make_manifest()), "name": name, "files": FILES}
    config = {
        "format_version": FORMAT_VERSION,
        "manifest": manifest,
        "decoder": decoder.cfg.to_dict(),
        "encoder": {"arch": "mobilenet_v2", "weights": WEIGHTS_REF,
                    "weights_sha256": imagenet_weights_sha256(), "fine_tune_blocks": fine_tune},
        "decode": {**DEFAULT_DECODE, **(decode or {})},
        "inference": {"int8_decoder": False, **(inference or {})},
        "preprocess": PREPROCESS_VERSION,
    }
    save_file(tensors, str(directory / "weights.safetensors"), metadata={"format": "pt", "kind": "caption"})
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    (directory / "metrics.json").write_text(json.dumps(metrics or {}, indent=2))
    vocab.save(directory / "vocab.json")


def read_config(directory) -> dict:
    directory = Path(directory)
    for name in ("weights.safetensors", "config.json", "vocab.json"):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} is not a caption model: {name} is missing")
    config = json.loads((directory / "config.json").read_text())
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{directory}: format_version {config.get('format_version')} "
                              f"is not supported (expected {FORMAT_VERSION})")
    return config


def load_model(directory, pretrained_encoder: bool = True):
    """Directory -> ``(encoder, decoder, vocab, config)``, all float32 and in eval mode."""
    directory = Path(directory)
    config = read_config(directory)
    vocab = Vocab.load(directory / "vocab.json")
    tensors = load_file(str(directory / "weights.safetensors"))
    decoder = AttentionDecoder(DecoderConfig(**config["decoder"]))
    state = {k[len("decoder."):]: v.float() for k, v in tensors.items() if k.startswith("decoder.")}
    missing, unexpected = decoder.load_state_dict(state, strict=False)
    allowed = {"fc.weight"} if decoder.cfg.tie_weights else set()
    if set(missing) - allowed or unexpected:
        raise CheckpointError(f"{directory}: decoder weights do not match the decoder config "
                              f"(missing {sorted(set(missing) - allowed)}, unexpected {unexpected})")
    enc_cfg = config["encoder"]
    encoder = Encoder(pretrained=pretrained_encoder, fine_tune_blocks=enc_cfg.get("fine_tune_blocks", 0))
    enc_state = {k[len("encoder."):]: (v.float() if v.is_floating_point() else v)
                 for k, v in tensors.items() if k.startswith("encoder.")}
    if enc_state:
        encoder.load_state_dict(enc_state, strict=False)
    if len(vocab) != decoder.cfg.vocab_size:
        raise CheckpointError(f"{directory}: vocab has {len(vocab)} words, decoder expects "
                              f"{decoder.cfg.vocab_size}")
    return encoder.eval(), decoder.eval(), vocab, config
