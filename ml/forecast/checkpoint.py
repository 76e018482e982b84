"""A forecaster version is a directory; loading it never unpickles anything.

::

    weights.safetensors   RecurrentForecaster parameters (float16 when shipped, float32 in run directories)
    config.json           {"format": "unroll-forecast/1", "model": ModelConfig, "scale": float,
                           "series": {"name", "title", "unit", "frequency", "season", "kind", "n"},
                           "split": {"train_end", "fit_end", "n"}, "manifest": {...}}
    metrics.json          {"val": {...}, "backtest": {...}, "command", ...}
    unroll.json           manifest read by the web app's model registry: {"kind": "forecast", "slot": "co2-lstm", ...}
    series.csv            only for a model trained on a CSV: that series, so the model can be served and judged
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..training.checkpoint import atomic_dir, read_json, write_json
from .model import ModelConfig, RecurrentForecaster

FORMAT = "unroll-forecast/1"
FILES = ["weights.safetensors", "config.json", "metrics.json"]


class CheckpointError(ValueError):
    """A model directory is missing files or does not match this code."""


def make_manifest(series: str, title: str, cell: str, slot: str = "", label: str = "") -> dict:
    return {"kind": "forecast", "slot": slot or f"{series}-{cell}",
            "label": label or f"{title or series} · {cell.upper()}"}


def write_model_files(directory: Path, model: RecurrentForecaster, info: dict, manifest: dict,
                      metrics: dict | None = None, dtype: torch.dtype = torch.float32, name: str = "") -> None:
    """``info``: {"scale", "series", "split"}; written into the existing ``directory``."""
    manifest = {**manifest, "name": name or directory.name, "files": FILES}
    tensors = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(directory / "weights.safetensors"), metadata={"format": FORMAT})
    write_json(directory / "config.json", {"format": FORMAT, "model": model.cfg.to_dict(), **info,
                                           "manifest": manifest})
    write_json(directory / "metrics.json", metrics or {})
    write_json(directory / "unroll.json", manifest)


def save_model(directory, model: RecurrentForecaster, info: dict, manifest: dict, metrics: dict | None = None,
               dtype: torch.dtype = torch.float16, extra_files=()) -> Path:
    """``extra_files``: copied in beside the model (a CSV-trained model's series.csv)."""
    import shutil
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        write_model_files(tmp, model, info, manifest, metrics, dtype, name=directory.name)
        for path in extra_files:
            shutil.copyfile(path, tmp / Path(path).name)
    return directory


def load_model(directory) -> tuple[RecurrentForecaster, dict]:
    """Directory -> (model in float32 and eval mode, config)."""
    directory = Path(directory)
    for name in ("weights.safetensors", "config.json"):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} is not a forecaster: {name} is missing")
    config = read_json(directory / "config.json")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{directory}: format {config.get('format')!r} is not {FORMAT!r}")
    model = RecurrentForecaster(ModelConfig(**config["model"]))
    tensors = {k: v.float() for k, v in load_file(str(directory / "weights.safetensors")).items()}
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        raise CheckpointError(f"{directory}: weights do not match the config ({error})") from None
    return model.eval(), config
