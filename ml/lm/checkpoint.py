"""A model version is a directory; nothing in it is pickled.

    <dir>/weights.safetensors   parameters (float16 storage for shipped models, float32 in run dirs)
    <dir>/config.json           {"format": "unroll-lm/1", "kind": "lm", "slot", "label", "model": {...RNNModel
                                 kwargs...}, "tokenizer": {...}, "train": {...TrainConfig...}, "corpus": str}
    <dir>/vocab.json            {"itos": [...]}  (id -> token)
    <dir>/metrics.json          {"valid_ppl", "test_ppl", "command", "train_wall_s", "history", ...}
    <dir>/unroll.json           manifest for the web app: {"kind": "lm", "slot", "label", "name", "files"}

Resumable training state (optimizer moments, RNG, data position) lives next to it in a run dir:
    <run>/last/{weights,ema,optim}.safetensors + state.json, <run>/best/ (a model dir).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .model import RNNModel
from .tokenizer import Vocab

FORMAT = "unroll-lm/1"


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


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
    """Write a model directory atomically (to <path>.tmp, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(model_tensors(model, dtype), str(tmp / "weights.safetensors"), metadata={"format": FORMAT})
    config = {"format": FORMAT, "kind": "lm", **config, "model": model.config()}
    _write_json(tmp / "config.json", config)
    vocab.save(tmp / "vocab.json")
    _write_json(tmp / "metrics.json", metrics)
    _write_json(tmp / "unroll.json", {
        "kind": "lm", "slot": config.get("slot", path.name), "label": config.get("label", path.name),
        "name": path.name, "cell": model.cell, "corpus": config.get("corpus"),
        "files": ["weights.safetensors", "config.json", "vocab.json", "metrics.json"]})
    if path.exists():
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def load_model_dir(path: str | Path, map_location: str = "cpu") -> tuple[RNNModel, Vocab, dict]:
    """Directory -> (model in eval mode, float32; vocab; config). Raises FileNotFoundError/ValueError."""
    path = Path(path)
    for name in ("weights.safetensors", "config.json", "vocab.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path} is not an LM model directory: {name} missing")
    config = read_json(path / "config.json")
    if config.get("kind", "lm") != "lm":
        raise ValueError(f"{path}: kind is {config.get('kind')!r}, not 'lm'")
    vocab = Vocab.load(path / "vocab.json")
    model = RNNModel(**config["model"])
    load_model_tensors(model, load_file(str(path / "weights.safetensors"), device=map_location))
    if model.ntoken != len(vocab):
        raise ValueError(f"{path}: model has {model.ntoken} outputs but vocab has {len(vocab)} tokens")
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


# ---- resumable optimizer / training state -------------------------------------------------------

def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state_dict split into tensors (safetensors) and JSON-able scalars."""
    sd = opt.state_dict()
    tensors, scalars = {}, {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{pid}.{k}"] = v.contiguous()
            else:
                scalars["state"].setdefault(str(pid), {})[k] = v
    return tensors, scalars


def load_optimizer_tensors(opt: torch.optim.Optimizer, tensors: dict, scalars: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    for pid, st in scalars.get("state", {}).items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def find_model_dirs(root: str | Path) -> list[dict]:
    """Manifests (unroll.json, plus "path") of every LM model directory directly under ``root``."""
    out = []
    for d in sorted(Path(root).glob("*")):
        if (d / "unroll.json").is_file() and (d / "weights.safetensors").is_file():
            m = read_json(d / "unroll.json")
            if m.get("kind") == "lm":
                out.append({**m, "path": str(d)})
    return out
