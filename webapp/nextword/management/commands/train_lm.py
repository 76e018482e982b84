"""Train a word-level LM: a thin wrapper over ml.lm.train.train (every TrainConfig field is an option).

    python manage.py train_lm --corpus ptb --cell lstm --out var/runs/ptb-lstm
    python manage.py train_lm --out var/runs/ptb-lstm --resume        # continue after a stop (or SIGTERM)
    python manage.py train_lm --out var/runs/ptb-lstm --resume --lr 0.0005 --epochs 9   # manual anneal step
    python manage.py train_lm ... --init-from models/lm-ptb-lstm      # warm start when var/runs is gone
    python manage.py train_lm ... --export models/lm-ptb-lstm          # also copy best/ there in float16
"""
import json
import shlex
import signal
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.lm.train import TrainConfig, train
from webapp.core.cli import parse_bool


class Command(BaseCommand):
    help = "Train (or resume) a word-level recurrent language model (ml.lm)."

    def add_arguments(self, parser):
        for f in fields(TrainConfig):
            default = f.default if f.default is not MISSING else None
            kind = parse_bool if f.type in (bool, "bool") else type(default)
            parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                                help=f"default: {default}")
        parser.add_argument("--out", required=True, help="run directory (checkpoints, logs), e.g. var/runs/ptb-lstm")
        parser.add_argument("--resume", action="store_true", help="continue from <out>/last")
        parser.add_argument("--export", default=None,
                            help="after training copy <out>/best to this model dir (float16), e.g. models/lm-ptb-lstm")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, **opts):
        given = {f.name: opts[f.name] for f in fields(TrainConfig) if opts.get(f.name) is not None}
        try:
            cfg = TrainConfig(**given).validate()
        except (TypeError, ValueError) as e:
            raise CommandError(str(e))
        out = Path(opts["out"])
        if not out.is_absolute():
            out = Path(settings.BASE_DIR) / out
        command = "python manage.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

        def on_progress(d):
            if not opts["quiet"] or d["event"] != "step":
                self.stdout.write(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                              for k, v in d.items() if k != "history"}))
                self.stdout.flush()

        # SIGTERM/SIGINT stop the run at the next step and keep a resumable checkpoint.
        stop = {"flag": False}

        def request_stop(signum, frame):
            stop["flag"] = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, request_stop)
        try:
            result = train(cfg, out, on_progress=on_progress, should_stop=lambda: stop["flag"],
                           resume=opts["resume"], command=command)
        except (ValueError, FileNotFoundError) as e:
            raise CommandError(str(e))
        if opts["export"] and result.get("best_dir"):
            from ml.lm.checkpoint import export_model_dir
            dst = Path(opts["export"])
            if not dst.is_absolute():
                dst = Path(settings.BASE_DIR) / dst
            export_model_dir(result["best_dir"], dst)
            self.stdout.write(f"exported {result['best_dir']} -> {dst}")
        self.stdout.write(f"status={result['status']} best_valid_ppl={result['best_valid_ppl']}")
