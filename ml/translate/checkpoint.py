"""A translation model version is a directory; loading it never unpickles anything.

::

    weights.safetensors   Seq2Seq parameters (float16 when shipped, float32 in run directories)
    config.json           {"format": "unroll-translate/1", "source": "en", "target": "de",
                           "model": ModelConfig, "decode": {"beam", "length_alpha", "block_ngram"}, "manifest"}
    source.spm, target.spm   the two sentencepiece models (their own protobuf format); a shared vocabulary
                          (share_embeddings) is source.spm alone
    metrics.json          {"val": {...}, "test": {...}, "by_length": [...], "command", ...}
    unroll.json           manifest read by the web app's model registry: {"kind": "translate", "slot": "en-de", ...}

A run directory holds two of them, last/ (with the resumable state, see ml.training) and best/.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..training.checkpoint import atomic_dir, read_json, write_json
from .data import Subwords
from .model import ModelConfig, Seq2Seq

FORMAT = "unroll-translate/1"
FILES = ["weights.safetensors", "config.json", "source.spm", "target.spm", "metrics.json"]


def files_for(cfg: ModelConfig) -> list[str]:
    """The files of a model directory: one subword model when both languages share it."""
    return [name for name in FILES if not (cfg.share_embeddings and name == "target.spm")]
DEFAULT_DECODE = {"beam": 5, "length_alpha": 0.6, "block_ngram": 4}
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "cs": "Czech"}


class CheckpointError(ValueError):
    """A model directory is missing files or does not match this code."""


def make_manifest(source: str, target: str, attention: bool = True, slot: str = "", label: str = "") -> dict:
    pair = f"{source}-{target}"
    names = f"{LANGUAGE_NAMES.get(source, source)} → {LANGUAGE_NAMES.get(target, target)}"
    return {"kind": "translate", "slot": slot or (pair if attention else f"{pair}-noattn"),
            "label": label or f"{names} · GRU {'with attention' if attention else 'without attention'}"}


def tied_names(cfg: ModelConfig) -> set[str]:
    """Parameters that are another one under a second name, so they are neither written nor read."""
    return ({"decoder.out.weight"} if cfg.tie_weights else set()) | (
        {"encoder.embed.weight"} if cfg.share_embeddings else set())


def model_tensors(model: Seq2Seq, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """state_dict without the tied weights (safetensors refuses shared storage)."""
    state = model.state_dict()
    for name in tied_names(model.cfg):
        state.pop(name)
    return {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous()
            for k, v in state.items()}


def write_model_files(directory: Path, model: Seq2Seq, source_sw: Subwords, target_sw: Subwords, languages: dict,
                      manifest: dict, metrics: dict | None = None, decode: dict | None = None,
                      dtype: torch.dtype = torch.float32, name: str = "") -> None:
    """The files of a model directory called ``name`` (default: the directory's own), written into the existing
    ``directory`` (often a temporary one that replaces the real one afterwards)."""
    manifest = {**manifest, "name": name or directory.name, "files": files_for(model.cfg)}
    save_file(model_tensors(model, dtype), str(directory / "weights.safetensors"), metadata={"format": FORMAT})
    write_json(directory / "config.json", {"format": FORMAT, **languages, "model": model.cfg.to_dict(),
                                           "decode": {**DEFAULT_DECODE, **(decode or {})}, "manifest": manifest})
    source_sw.save(directory / "source.spm")
    if not model.cfg.share_embeddings:
        target_sw.save(directory / "target.spm")
    write_json(directory / "metrics.json", metrics or {})
    write_json(directory / "unroll.json", manifest)


def save_model(directory, model: Seq2Seq, source_sw: Subwords, target_sw: Subwords, languages: dict,
               manifest: dict, metrics: dict | None = None, decode: dict | None = None,
               dtype: torch.dtype = torch.float16) -> Path:
    """Write a model directory, replacing ``directory`` whole (ml.training.checkpoint.atomic_dir)."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        write_model_files(tmp, model, source_sw, target_sw, languages, manifest, metrics, decode, dtype,
                          name=directory.name)
    return directory


def read_config(directory) -> dict:
    directory = Path(directory)

    def require(names):
        for name in names:
            if not (directory / name).is_file():
                raise CheckpointError(f"{directory} is not a translation model: {name} is missing")

    require(("weights.safetensors", "config.json"))
    config = read_json(directory / "config.json")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{directory}: format {config.get('format')!r} is not {FORMAT!r}")
    require(name for name in files_for(ModelConfig(**config["model"])) if name.endswith(".spm"))
    return config


def load_model(directory) -> tuple[Seq2Seq, Subwords, Subwords, dict]:
    """Directory -> (model in float32 and eval mode, source subwords, target subwords, config)."""
    directory = Path(directory)
    config = read_config(directory)
    model = Seq2Seq(ModelConfig(**config["model"]))
    tensors = {k: v.float() if v.is_floating_point() else v
               for k, v in load_file(str(directory / "weights.safetensors")).items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    allowed = tied_names(model.cfg)
    if set(missing) - allowed or unexpected:
        raise CheckpointError(f"{directory}: weights do not match the config (missing "
                              f"{sorted(set(missing) - allowed)}, unexpected {sorted(unexpected)})")
    source_sw = Subwords.load(directory / "source.spm")
    target_sw = source_sw if model.cfg.share_embeddings else Subwords.load(directory / "target.spm")
    if (len(source_sw), len(target_sw)) != (model.cfg.src_vocab, model.cfg.tgt_vocab):
        raise CheckpointError(f"{directory}: the subword models do not match the model's vocabularies")
    return model.eval(), source_sw, target_sw, config
