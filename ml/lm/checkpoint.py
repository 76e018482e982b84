"""A model version is a directory; nothing in it is pickled.

    <dir>/weights.safetensors   parameters (float16 storage for shipped models, float32 in run dirs)
    <dir>/config.json           {"format": "unroll-lm/1", "kind": "lm", "slot", "label", "model": {...RNNModel
                                 kwargs...}, "tokenizer": {...}, "train": {...TrainConfig...}, "corpus": str}
    <dir>/vocab.json            {"itos": [...]}  (id -> token)
    <dir>/metrics.json          {"valid_ppl", "test_ppl", "command", "train_wall_s", "history", ...}
    <dir>/unroll.json           manifest for the web app: {"kind": "lm", "slot", "label", "name", "files"}

A run directory holds two of them, last/ (with the resumable state, see ml.training) and best/.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..training.checkpoint import atomic_dir, read_json, write_json
from .model import RNNModel
from .subwords import ngram_table
from .tokenizer import Vocab

FORMAT = "unroll-lm/1"


def model_tensors(model: RNNModel, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """state_dict without the tied decoder weight (safetensors refuses shared storage)."""
    sd = model.state_dict()
    if model.tie_weights:
        sd.pop("decoder.weight", None)
    return {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous()
            for k, v in sd.items()}


def load_model_tensors(model: RNNModel, tensors: dict[str, torch.Tensor]) -> None:
    ref = model.state_dict()
    tensors = {k: v.to(ref[k].dtype) for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not (model.tie_weights and k == "decoder.weight")]
    if missing or unexpected:
        raise ValueError(f"weights do not match the model: missing={missing} unexpected={unexpected}")


def save_model_dir(path: str | Path, model: RNNModel, vocab: Vocab, config: dict, metrics: dict,
                   dtype: torch.dtype = torch.float32) -> Path:
    """Write a model directory, replacing ``path`` whole (see ml.training.checkpoint.atomic_dir)."""
    path = Path(path)
    with atomic_dir(path) as tmp:
        write_model_files(tmp, path.name, model, vocab, config, metrics, dtype)
    return path


def write_model_files(directory: Path, name: str, model: RNNModel, vocab: Vocab, config: dict, metrics: dict,
                      dtype: torch.dtype = torch.float32) -> None:
    """The files of a model directory called ``name``, written into the existing ``directory``."""
    save_file(model_tensors(model, dtype), str(directory / "weights.safetensors"), metadata={"format": FORMAT})
    config = {"format": FORMAT, "kind": "lm", **config, "model": model.config()}
    write_json(directory / "config.json", config)
    vocab.save(directory / "vocab.json")
    write_json(directory / "metrics.json", metrics)
    write_json(directory / "unroll.json", {
        "kind": "lm", "slot": config.get("slot", name), "label": config.get("label", name),
        "name": name, "cell": model.cell, "corpus": config.get("corpus"),
        "files": ["weights.safetensors", "config.json", "vocab.json", "metrics.json"]})


def load_model_dir(path: str | Path, map_location: str = "cpu") -> tuple[RNNModel, Vocab, dict]:
    """Directory -> (model in eval mode, float32; vocab; config). Raises FileNotFoundError/ValueError.

    A model trained with character n-grams (a run's best/ or last/) comes back folded into a plain word model.
    """
    path = Path(path)
    for name in ("weights.safetensors", "config.json", "vocab.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path} is not an LM model directory: {name} missing")
    config = read_json(path / "config.json")
    if config.get("kind", "lm") != "lm":
        raise ValueError(f"{path}: kind is {config.get('kind')!r}, not 'lm'")
    vocab = Vocab.load(path / "vocab.json")
    model = RNNModel(**config["model"])
    if model.ntoken != len(vocab):
        raise ValueError(f"{path}: model has {model.ntoken} outputs but vocab has {len(vocab)} tokens")
    if model.subword_ngrams:
        ids, offsets, count = ngram_table(vocab.itos)
        if count != model.subword_ngrams:
            raise ValueError(f"{path}: vocab gives {count} n-grams, the model was trained with {model.subword_ngrams}")
        model.set_subwords(ids, offsets)
    load_model_tensors(model, load_file(str(path / "weights.safetensors"), device=map_location))
    model = model.fold_subwords()
    config["model"] = model.config()
    model.eval()
    return model, vocab, config


SHAPE_KEYS = ("ntoken", "cell", "emsize", "nhid", "nlayers", "tie_weights")  # what decides the weights' shapes


def same_shape(a: RNNModel, a_vocab: Vocab, b: RNNModel, b_vocab: Vocab) -> bool:
    """True when ``a``'s weights can be loaded into ``b`` and mean the same words (dropouts may differ)."""
    return a_vocab.itos == b_vocab.itos and all(a.config()[k] == b.config()[k] for k in SHAPE_KEYS)


def export_model_dir(src: str | Path, dst: str | Path, dtype: torch.dtype = torch.float16, **manifest) -> Path:
    """Copy a model dir (e.g. a run's best/) to ``dst`` with float16 storage; ``manifest`` overrides slot/label."""
    model, vocab, config = load_model_dir(src)
    metrics = read_json(Path(src) / "metrics.json") if (Path(src) / "metrics.json").is_file() else {}
    config.update(manifest)
    config.pop("model", None)
    config.pop("format", None)
    config.pop("kind", None)
    return save_model_dir(dst, model, vocab, config, metrics, dtype=dtype)


def find_model_dirs(root: str | Path) -> list[dict]:
    """Manifests (unroll.json, plus "path") of every LM model directory directly under ``root``."""
    out = []
    for d in sorted(Path(root).glob("*")):
        if (d / "unroll.json").is_file() and (d / "weights.safetensors").is_file():
            m = read_json(d / "unroll.json")
            if m.get("kind") == "lm":
                out.append({**m, "path": str(d)})
    return out
