"""A captioning model version is a DIRECTORY; loading it never unpickles anything.

::

    weights.safetensors   decoder.* tensors (float16 by default; an ensemble adds decoder1.*, decoder2.*,
                          ... for its other members) and, only when the encoder was
                          fine-tuned, encoder.features.<i>.* of the fine-tuned blocks; the frozen
                          rest of the encoder is the ImageNet file referenced in config.json
    config.json           {"format_version", "manifest", "decoder": DecoderConfig, "ensemble_size",
                           "encoder": {"arch", "weights", "weights_sha256", "fine_tune_blocks"},
                           "decode": {"beam", "max_len", "length_alpha", "block_ngram"},
                           "inference": {"int8_decoder", "bf16_encoder"}, "preprocess"}
    vocab.json            {"itos": [...], "min_freq", "counts"}
    metrics.json          {"val": {...}, "test": {...}, "command": "...", ...}
    unroll.json           manifest read by the web app's model registry:
                          {"kind": "caption", "slot": "flickr8k", "label": "...", "name", "files", ...}

The manifest is also embedded in config.json under ``"manifest"``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .decoder import AttentionDecoder, DecoderConfig
from .ensemble import EnsembleDecoder
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


def _member_prefix(i: int) -> str:
    return "decoder." if i == 0 else f"decoder{i}."


def _decoder_tensors(decoder: AttentionDecoder | EnsembleDecoder, dtype) -> dict[str, torch.Tensor]:
    members = list(decoder.members) if isinstance(decoder, EnsembleDecoder) else [decoder]
    tensors = {}
    for i, member in enumerate(members):
        state = member.state_dict()
        if member.cfg.tie_weights:
            state.pop("fc.weight")  # same storage as embedding.weight; safetensors refuses aliases
        tensors.update({_member_prefix(i) + k: v.detach().to(dtype).contiguous() for k, v in state.items()})
    return tensors


def save_model(directory, decoder: AttentionDecoder | EnsembleDecoder, vocab: Vocab, encoder: Encoder | None = None,
               metrics: dict | None = None, manifest: dict | None = None,
               decode: dict | None = None, inference: dict | None = None,
               dtype=torch.float16) -> Path:
    """Write a model directory atomically (temp dir + rename), return its path."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    tensors = _decoder_tensors(decoder, dtype)
    fine_tune = encoder.fine_tune_blocks if encoder is not None else 0
    if fine_tune:
        tensors.update({f"encoder.{k}": (v.to(dtype) if v.is_floating_point() else v).contiguous()
                        for k, v in encoder.trainable_state_dict().items()})
    manifest = {**(manifest or make_manifest()), "name": directory.name, "files": FILES}
    config = {
        "format_version": FORMAT_VERSION,
        "manifest": manifest,
        "decoder": decoder.cfg.to_dict(),
        "ensemble_size": len(decoder.members) if isinstance(decoder, EnsembleDecoder) else 1,
        "encoder": {"arch": "mobilenet_v2", "weights": WEIGHTS_REF,
                    "weights_sha256": imagenet_weights_sha256(), "fine_tune_blocks": fine_tune},
        "decode": {**DEFAULT_DECODE, **(decode or {})},
        "inference": {"int8_decoder": False, **(inference or {})},
        "preprocess": PREPROCESS_VERSION,
    }
    save_file(tensors, str(tmp / "weights.safetensors"), metadata={"format": "pt", "kind": "caption"})
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    (tmp / "metrics.json").write_text(json.dumps(metrics or {}, indent=2))
    vocab.save(tmp / "vocab.json")
    # mkdtemp makes a private 0700 directory; a model must be readable by the web server and workers.
    os.chmod(tmp, 0o755)
    for f in tmp.iterdir():
        os.chmod(f, 0o644)
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)
    return directory


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
    """Directory -> ``(encoder, decoder, vocab, config)``, all float32 and in eval mode.

    ``decoder`` is an :class:`EnsembleDecoder` when the directory holds several (``ensemble_size``).
    """
    directory = Path(directory)
    config = read_config(directory)
    vocab = Vocab.load(directory / "vocab.json")
    tensors = load_file(str(directory / "weights.safetensors"))
    members = [_load_member(directory, tensors, config, _member_prefix(i))
               for i in range(int(config.get("ensemble_size", 1)))]
    decoder = members[0] if len(members) == 1 else EnsembleDecoder(members)
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


def _load_member(directory: Path, tensors: dict, config: dict, prefix: str) -> AttentionDecoder:
    decoder = AttentionDecoder(DecoderConfig(**config["decoder"]))
    state = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    missing, unexpected = decoder.load_state_dict(state, strict=False)
    allowed = {"fc.weight"} if decoder.cfg.tie_weights else set()
    if set(missing) - allowed or unexpected:
        raise CheckpointError(f"{directory}: {prefix}* weights do not match the decoder config "
                              f"(missing {sorted(set(missing) - allowed)}, unexpected {unexpected})")
    return decoder


def combine(directories: list, out_dir, metrics: dict | None = None, manifest: dict | None = None,
            dtype=torch.float16) -> Path:
    """Save the decoders of several model directories (same vocabulary, same frozen encoder) as one
    ensemble model directory; decode/inference settings come from the first."""
    loaded = [load_model(d) for d in directories]
    encoder, _, vocab, config = loaded[0]
    for d, (enc, _, other_vocab, other_config) in zip(directories[1:], loaded[1:]):
        if other_vocab.itos != vocab.itos:
            raise CheckpointError(f"{d}: vocabulary differs from {directories[0]}'s")
        if other_config["encoder"] != config["encoder"] or config["encoder"].get("fine_tune_blocks"):
            raise CheckpointError(f"{d}: ensembles need one shared frozen encoder")
    members = [m for _, dec, _, _ in loaded
               for m in (dec.members if isinstance(dec, EnsembleDecoder) else [dec])]
    return save_model(out_dir, EnsembleDecoder(members), vocab, encoder, metrics=metrics,
                      manifest=manifest or config.get("manifest"), decode=config.get("decode"),
                      inference=config.get("inference"), dtype=dtype)
