"""Train a word-level LM: a thin wrapper over ml.lm.train (every LMConfig field is an option).

    python manage.py train_lm --corpus ptb --cell lstm                    # run in var/runs/lm-ptb-lstm
    python manage.py train_lm --corpus ptb --cell lstm --resume           # continue after a stop (or SIGTERM)
    python manage.py train_lm --corpus ptb --cell lstm --resume --lr 0.0005 --epochs 9   # manual anneal step
    python manage.py train_lm ... --init-from models/lm-ptb-lstm          # warm start when var/runs is gone
    python manage.py train_lm ... --export-dir models/lm-ptb-lstm         # ship best/ there (float16) at the end

Nothing is written under models/ without --export-dir.
"""
from pathlib import Path

from django.conf import settings

from ml.lm.train import LMConfig, train
from webapp.training.commands import TrainCommand


def default_run_dir(options: dict) -> str:
    """var/runs/lm-<corpus>-<cell>, e.g. lm-ptb-lstm or lm-mybook-gru for --corpus text:mybook.txt."""
    corpus = Path((options.get("corpus") or LMConfig.corpus).split(":", 1)[-1]).stem
    return str(Path(settings.VAR_DIR) / "runs" / f"lm-{corpus}-{options.get('cell') or LMConfig.cell}")


class Command(TrainCommand):
    help = "Train (or resume) a word-level recurrent language model (ml.lm)."
    config_class = LMConfig
    run_dir_help = "var/runs/lm-<corpus>-<cell>"

    def train(self, cfg, on_progress, should_stop):
        return train(cfg, on_progress=on_progress, should_stop=should_stop)

    def default_run_dir(self, options):
        return default_run_dir(options)

    def summary(self, result):
        return (f"status={result['status']} best_valid_ppl={result['best_valid_ppl']} "
                f"run_dir={result['run_dir']} export_dir={result['export_dir']}")
