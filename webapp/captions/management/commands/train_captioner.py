"""Train the Flickr8k image captioner (thin wrapper over ml.caption.train)."""
import json
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.caption.train import EARLY_STOP_METRICS, KEEP_CHOICES, TrainConfig, train
from webapp.core.cli import parse_bool


def config_from_options(o: dict) -> TrainConfig:
    """The TrainConfig these parsed command-line options describe."""
    return TrainConfig(
        data_dir=o["data"], out_dir=o["run_dir"], export_dir=None if o["no_export"] else o["model"],
        train_split=o["train_split"], val_split=o["val_split"], keep=o["keep"],
        max_epochs=o["epochs"], patience=o["patience"], early_stop_metric=o["metric"],
        batch_images=o["batch_images"], lr=o["lr"], hidden_dim=o["hidden"], embed_dim=o["embed"],
        attention_dim=o["attention"], proj_dim=o["proj"], dropout=o["dropout"],
        label_smoothing=o["label_smoothing"], min_freq=o["min_freq"], tie_weights=o["tie_weights"],
        max_words=o["max_words"], grad_clip=o["grad_clip"], alpha_c=o["alpha_c"], val_beam=o["val_beam"],
        fine_tune_blocks=o["fine_tune_blocks"], flip_prob=o["flip_prob"],
        extra_captions=o["extra_captions"], extra_captions_only=o["extra_captions_only"],
        init_from=o["init_from"], warmup_steps=o["warmup_steps"],
        encoder_lr=o["encoder_lr"], max_train_images=o["max_train_images"],
        val_images=o["val_images"], time_budget_s=o["time_budget_min"] * 60,
        num_threads=o["threads"], seed=o["seed"], bf16=not o["no_bf16"],
        export_int8=not o["export_float32_decoder"],
        scst_epochs=o["scst_epochs"], scst_lr=o["scst_lr"],
        scst_mode=o["scst_mode"], scst_top_p=o["scst_top_p"], scst_samples=o["scst_samples"],
        scst_bleu_weight=o["scst_bleu_weight"],
        scst_patience=o["scst_patience"], resume=not o["fresh"],
        command="python manage.py train_captioner " + shlex.join(sys.argv[2:]),
    )


class Command(BaseCommand):
    help = "Train the Show-Attend-Tell captioner on Flickr8k (resumes var/runs/caption-flickr8k by default)."

    def add_arguments(self, parser):
        d = TrainConfig()
        parser.add_argument("--data", default=d.data_dir, help="Flickr8k folder (any supported layout)")
        parser.add_argument("--run-dir", "--out", dest="run_dir", default=str(Path(settings.VAR_DIR) / "runs" / "caption-flickr8k"))
        parser.add_argument("--model", default=str(Path(settings.MODELS_DIR) / "caption-flickr8k"),
                            help="where the best model is exported (float16) at the end")
        parser.add_argument("--epochs", "--max-epochs", dest="epochs", type=int, default=d.max_epochs)
        parser.add_argument("--patience", type=int, default=d.patience)
        parser.add_argument("--metric", "--early-stop-metric", dest="metric", choices=EARLY_STOP_METRICS, default=d.early_stop_metric,
                            help="val metric that picks the best epoch (bleu4+cider: their sum)")
        parser.add_argument("--keep", choices=KEEP_CHOICES, default=d.keep,
                            help="best: keep the best val epoch and stop early; last: run every epoch, keep "
                                 "the last (a fixed schedule, for training on the val images too)")
        parser.add_argument("--train-split", default=d.train_split, help="file listing the training images")
        parser.add_argument("--val-split", default=d.val_split, help="file listing the validation images")
        parser.add_argument("--batch-images", type=int, default=d.batch_images)
        parser.add_argument("--lr", type=float, default=d.lr)
        parser.add_argument("--hidden", "--hidden-dim", dest="hidden", type=int, default=d.hidden_dim)
        parser.add_argument("--embed", "--embed-dim", dest="embed", type=int, default=d.embed_dim)
        parser.add_argument("--attention", "--attention-dim", dest="attention", type=int, default=d.attention_dim)
        parser.add_argument("--proj", "--proj-dim", dest="proj", type=int, default=d.proj_dim)
        parser.add_argument("--dropout", type=float, default=d.dropout)
        parser.add_argument("--tie-weights", type=parse_bool, default=d.tie_weights,
                            help="share the word embedding with the output layer (true/false)")
        parser.add_argument("--max-words", type=int, default=d.max_words, help="training captions are cut to this")
        parser.add_argument("--grad-clip", type=float, default=d.grad_clip)
        parser.add_argument("--alpha-c", type=float, default=d.alpha_c, help="doubly stochastic attention weight")
        parser.add_argument("--val-beam", type=int, default=d.val_beam)
        parser.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
        parser.add_argument("--min-freq", type=int, default=d.min_freq)
        parser.add_argument("--fine-tune-blocks", type=int, default=0,
                            help="also train the last N MobileNetV2 blocks (from a cache of the map entering them)")
        parser.add_argument("--flip-prob", type=float, default=d.flip_prob,
                            help="chance a training image is seen mirrored (needs frozen features)")
        parser.add_argument("--extra-captions", default=None,
                            help="JSON of more training captions (a teacher's: python -m ml.caption.distill)")
        parser.add_argument("--extra-captions-only", type=parse_bool, default=d.extra_captions_only,
                            help="true: train on the --extra-captions instead of the human captions")
        parser.add_argument("--init-from", default=None,
                            help="model directory whose decoder and vocabulary a fresh run starts from")
        parser.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
        parser.add_argument("--encoder-lr", type=float, default=TrainConfig().encoder_lr)
        parser.add_argument("--max-train-images", type=int, default=0, help="subset for a smoke test")
        parser.add_argument("--val-images", type=int, default=0)
        parser.add_argument("--time-budget-min", type=float, default=0.0)
        parser.add_argument("--threads", "--num-threads", dest="threads", type=int, default=0)
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--scst-epochs", type=int, default=0,
                            help="self-critical CIDEr fine-tuning epochs after cross-entropy training")
        parser.add_argument("--scst-lr", type=float, default=TrainConfig().scst_lr)
        parser.add_argument("--scst-mode", choices=["beam", "sample"], default=d.scst_mode)
        parser.add_argument("--scst-top-p", type=float, default=d.scst_top_p,
                            help="sample mode: nucleus sampling (1 = the whole distribution)")
        parser.add_argument("--scst-bleu-weight", type=float, default=d.scst_bleu_weight,
                            help="sample mode: reward = CIDEr-D + this x sentence BLEU-4 (0 = CIDEr-D only)")
        parser.add_argument("--scst-samples", type=int, default=d.scst_samples)
        parser.add_argument("--scst-patience", type=int, default=d.scst_patience)
        parser.add_argument("--no-bf16", action="store_true", help="train in float32 (slower)")
        parser.add_argument("--fresh", action="store_true", help="ignore an existing run and start over")
        parser.add_argument("--no-export", action="store_true")
        parser.add_argument("--export-float32-decoder", action="store_true",
                            help="do not switch on the int8 decoder in the exported model's config")
        parser.add_argument("--json", action="store_true", help="print progress as JSON lines")

    def handle(self, *args, **o):
        cfg = config_from_options(o)
        try:
            result = train(cfg, on_progress=self._printer(o["json"]))
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result) if o["json"] else f"done: {result}")

    def _printer(self, as_json):
        def show(d):
            if as_json:
                self.stdout.write(json.dumps(d))
            elif d["event"] == "step":
                extra = f"ce {d['ce']:.3f}" if "ce" in d else f"reward {d['reward']:.3f}"
                self.stdout.write(f"{d.get('phase', 'xe')} epoch {d['epoch']}/{d['epochs']} step {d['step']}/"
                                  f"{d['total_steps']} loss {d['loss']:.3f} {extra} lr {d['lr']:.2e} "
                                  f"{d['elapsed_s']:.0f}s")
            elif d["event"] == "epoch":
                v = d["val"]
                self.stdout.write(f"== {d.get('phase', 'xe')} epoch {d['epoch']} val bleu4 {v['bleu4']:.4f} cider {v['cider']:.4f} "
                                  f"words {v['distinct_words']} best {d['best']:.4f}@{d['best_epoch']}")
            else:
                self.stdout.write(json.dumps(d))
            self.stdout.flush()
        return show
