"""Train a word-level LM: a thin wrapper over ml.lm.train (every LMConfig field is an option).

    python manage.py train_lm --corpus ptb --cell lstm                    # run in var/runs/lm-ptb-lstm
    python manage.py train_lm --corpus ptb --cell lstm --resume           # continue after a stop (or SIGTERM)
    python manage.py train_lm --corpus ptb --cell lstm --resume --lr 0.0005 --epochs 9   # manual anneal step
    python manage.py train_lm ... --init-from models/lm-ptb-lstm          # warm start when var/runs is gone
    python manage.py train_lm ... --export-dir models/lm-ptb-lstm         # ship best/ there (float16) at the end

Nothing is written under models/ without --export-dir.
"""
import json
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.lm.train import LMConfig, train
from ml.training.cli import add_arguments, from_options, stop_on_signals


def default_run_dir(options: dict) -> str:
    """var/runs/lm-<corpus>-<cell>, e.g. lm-ptb-lstm or lm-mybook-gru for --corpus text:mybook.txt."""
    corpus = Path((options.get("corpus") or LMConfig.corpus).split(":", 1)[-1]).stem
    return str(Path(settings.VAR_DIR) / "runs" / f"lm-{corpus}-{options.get('cell') or LMConfig.cell}")


class Command(BaseCommand):
    help = "Train (or resume) a word-level recurrent language model (ml.lm)."

    def add_arguments(self, parser):
        add_arguments(parser, LMConfig, defaults={"run_dir": "var/runs/lm-<corpus>-<cell>"})
        parser.add_argument("--quiet", action="store_true", help="print epoch ends only, not every step")

    def handle(self, *args, **options):
        try:
            cfg = from_options(LMConfig, options, defaults={"run_dir": default_run_dir(options)})
            cfg.command = "python manage.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            result = train(cfg, on_progress=self.printer(options["quiet"]), should_stop=stop_on_signals())
        except (ValueError, FileNotFoundError) as e:
            raise CommandError(str(e))
        self.stdout.write(f"status={result['status']} best_valid_ppl={result['best_valid_ppl']} "
                          f"run_dir={result['run_dir']} export_dir={result['export_dir']}")

    def printer(self, quiet: bool):
        def show(event):
            if not quiet or event["event"] != "step":
                self.stdout.write(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                              for k, v in event.items() if k != "history"}))
                self.stdout.flush()
        return show
