"""Translation latency, in process, one sentence at a time: Translator.translate() end to end (subword encoding,
the bidirectional encoder, beam search with the attention kept, detokenising), per model directory.

    .venv/bin/python bench/translate_latency.py                                  # every models/translate-* directory
    .venv/bin/python bench/translate_latency.py models/translate-en-de --runs 50 --threads 1 --beam 5

The 13-word sentence is the issue's yardstick; a 5-word and a 25-word one show how time grows with length.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lm_latency import timeit  # noqa: E402  (median and p95, the same way for every model)
from ml.translate.translator import Translator  # noqa: E402

SENTENCES = {
    "5 words": "A dog runs outside.",
    "13 words": "A young woman in a red jacket is walking her dog along the beach.",
    "25 words": ("Two men in orange vests are working on the road while a woman with a baby carriage waits "
                 "at the corner for the light to change."),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dirs", nargs="*")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 = what a worker process uses)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dirs = args.model_dirs or sorted(str(p) for p in (ROOT / "models").glob("translate-*") if p.is_dir())
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, runs={args.runs}, beam {args.beam}, "
          "times in ms")
    print(f"{'model':28s} {'sentence':10s} {'p50':>8s} {'p95':>8s}")
    for directory in dirs:
        translator = Translator.from_dir(directory)
        name = Path(directory).name
        for label, text in SENTENCES.items():
            p50, p95 = timeit(lambda: translator.translate(text, beam=args.beam), args.runs)
            print(f"{name:28s} {label:10s} {p50:8.2f} {p95:8.2f}", flush=True)


if __name__ == "__main__":
    main()
