"""Perplexity of a word-LM model directory on a corpus split.

    python manage.py evaluate_lm --corpus ptb --split test --json          # the default PTB LSTM
    python manage.py evaluate_lm --model models/lm-ptb-gru --split valid
    python manage.py evaluate_lm --model models/lm-ptb-lstm --record        # also store in metrics.json
"""
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_MODEL = "lm-ptb-lstm"


def model_dir(value):
    if not value:
        return Path(settings.MODELS_DIR) / DEFAULT_MODEL
    p = Path(value)
    if not p.is_absolute() and not p.exists() and (Path(settings.MODELS_DIR) / value).exists():
        return Path(settings.MODELS_DIR) / value  # accept a bare name like "lm-ptb-gru"
    return p


class Command(BaseCommand):
    help = "Evaluate a word-level LM (perplexity) on ptb / shakespeare / text:PATH."

    def add_arguments(self, parser):
        parser.add_argument("--model", default=None, help=f"model dir (default: MODELS_DIR/{DEFAULT_MODEL})")
        parser.add_argument("--corpus", default=None, help="ptb | shakespeare | text:PATH (default: the model's)")
        parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
        parser.add_argument("--batch-size", type=int, default=10)
        parser.add_argument("--bptt", type=int, default=35)
        parser.add_argument("--int8", action="store_true",
                            help="score the int8 copy that serves suggestions (records <split>_ppl_int8)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--record", action="store_true", help="write <split>_ppl into the model's metrics.json")

    def handle(self, *args, **opts):
        from ml.lm.evaluate import evaluate_dir

        path = model_dir(opts["model"])
        try:
            r = evaluate_dir(path, opts["corpus"], opts["split"], opts["batch_size"], opts["bptt"],
                             int8=opts["int8"])
        except (FileNotFoundError, ValueError) as e:
            raise CommandError(str(e))
        if opts["record"]:
            mpath = path / "metrics.json"
            metrics = json.loads(mpath.read_text()) if mpath.exists() else {}
            suffix = "_int8" if opts["int8"] else ""
            metrics[f"{opts['split']}_ppl{suffix}"] = round(r["perplexity"], 3)
            metrics[f"{opts['split']}_tokens"] = r["tokens"]
            mpath.write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
        if opts["json"]:
            self.stdout.write(json.dumps({"perplexity": round(r["perplexity"], 3), "tokens": r["tokens"],
                                          "corpus": r["corpus"], "split": r["split"], "model": str(path),
                                          **({"int8": True} if opts["int8"] else {})}))
        else:
            self.stdout.write(f"{path} {r['corpus']}/{r['split']}: perplexity {r['perplexity']:.2f} "
                              f"over {r['tokens']} tokens{' (int8)' if opts['int8'] else ''} ({r['seconds']} s)")
