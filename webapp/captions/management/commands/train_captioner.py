"""Train the image captioner: a thin wrapper over ml.caption.train (every CaptionConfig field is an option).

    python manage.py train_captioner --epochs 10                        # run in var/runs/caption-flickr8k
    python manage.py train_captioner --resume --scst-epochs 5           # continue, then self-critical epochs
    python manage.py train_captioner ... --export-dir models/caption-flickr8k   # ship best/ (float16) at the end

Nothing is written under models/ without --export-dir.
"""
import json
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.caption.train import CaptionConfig, train
from ml.training.cli import add_arguments, from_options, stop_on_signals


class Command(BaseCommand):
    help = "Train (or resume) the Show-Attend-Tell captioner (ml.caption), on Flickr8k by default."

    def add_arguments(self, parser):
        add_arguments(parser, CaptionConfig, defaults=self.defaults())
        parser.add_argument("--json", action="store_true", help="print progress as JSON lines")

    @staticmethod
    def defaults() -> dict:
        return {"run_dir": str(Path(settings.VAR_DIR) / "runs" / "caption-flickr8k"),
                "cache_root": str(Path(settings.VAR_DIR) / "cache" / "caption-features")}

    def handle(self, *args, **options):
        try:
            cfg = from_options(CaptionConfig, options, defaults=self.defaults())
            cfg.command = "python manage.py train_captioner " + shlex.join(sys.argv[2:])
            result = train(cfg, on_progress=self.printer(options["json"]), should_stop=stop_on_signals())
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result) if options["json"] else f"done: {result}")

    def printer(self, as_json: bool):
        def show(d):
            if as_json:
                self.stdout.write(json.dumps(d))
            elif d["event"] == "step":
                extra = f"ce {d['ce']:.3f}" if "ce" in d else f"reward {d['reward']:.3f}"
                self.stdout.write(f"{d['phase']} epoch {d['epoch']}/{d['epochs']} step {d['step']}/"
                                  f"{d['total_steps']} loss {d['loss']:.3f} {extra} lr {d['lr']:.2e} "
                                  f"{d['elapsed_s']:.0f}s")
            elif d["event"] == "epoch":
                v = d["val"]
                self.stdout.write(f"== {d['phase']} epoch {d['epoch']} val bleu4 {v['bleu4']:.4f} "
                                  f"cider {v['cider']:.4f} words {v['distinct_words']} "
                                  f"best {d['best']:.4f}@{d['best_epoch']}")
            else:
                self.stdout.write(json.dumps(d))
            self.stdout.flush()
        return show
