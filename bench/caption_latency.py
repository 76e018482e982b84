"""Image-captioner latency: one 224x224 JPEG, beam 3, file -> caption, model loaded once.

    .venv/bin/python bench/caption_latency.py [--model models/caption-flickr8k] [--beam 3]
        [--runs 20] [--warmup 3] [--threads N] [--int8 auto|on|off] [--bf16-encoder auto|on|off]
        [--image PATH] [--json]

Prints median and p95 over ``--runs`` timed calls after ``--warmup`` untimed ones. Each call is
``Captioner.caption(path)``: JPEG decode + preprocessing + MobileNetV2 + beam search + attention maps.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from ml.caption.captioner import Captioner  # noqa: E402
from ml.caption.data import default_data_dir, read_split, split_file  # noqa: E402


def pick_image(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    data = default_data_dir()
    for folder in (data / "images", data / "Images"):
        if folder.is_dir():
            return folder / read_split(split_file("test"))[0]
    path = Path(tempfile.mkdtemp()) / "bench.jpg"     # no dataset: a synthetic 224x224 JPEG
    Image.effect_mandelbrot((224, 224), (-2, -1.2, 0.8, 1.2), 100).convert("RGB").save(path, quality=90)
    return path


def latency_stats(times_ms: list[float]) -> dict:
    """``{"median_ms", "p95_ms", "min_ms"}`` of timed calls, in milliseconds, rounded to 0.1."""
    times = sorted(times_ms)
    return {"median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 1),
            "min_ms": round(times[0], 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(REPO / "models" / "caption-flickr8k"))
    p.add_argument("--image")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: a second thread only helps on an otherwise idle CPU; 0 = torch default)")
    p.add_argument("--int8", choices=["auto", "on", "off"], default="auto",
                   help="int8 dynamic-quantised decoder (auto = what the model config says)")
    p.add_argument("--bf16-encoder", choices=["auto", "on", "off"], default="auto",
                   help="bf16 MobileNetV2 (auto = the model config, only on CPUs with native bf16)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    image = pick_image(args.image)
    t0 = time.perf_counter()
    setting = {"auto": None, "on": True, "off": False}   # auto = what the model's config says
    cap = Captioner.from_dir(args.model, num_threads=args.threads or None, int8=setting[args.int8],
                             bf16_encoder=setting[args.bf16_encoder])
    load_s = time.perf_counter() - t0
    for _ in range(args.warmup):
        cap.caption(image, beam=args.beam)
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        out = cap.caption(image, beam=args.beam)
        times.append((time.perf_counter() - t) * 1000)
    result = {
        "image": str(image), "beam": args.beam, "runs": args.runs, **latency_stats(times), "load_s": round(load_s, 2),
        "int8_decoder": cap.int8, "bf16_encoder": cap.bf16_encoder, "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(), "cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__, "caption": out["caption"],
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:10s} {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
