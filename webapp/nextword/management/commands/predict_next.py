"""Next-word suggestions (or a sampled continuation) from a word-LM model directory.

    python manage.py predict_next "the stock market"
    python manage.py predict_next "the stock market" --k 10 --model models/lm-ptb-gru
    python manage.py predict_next "the stock market" --sample 20 --temperature 0.8 --seed 1
"""
import json

from django.core.management.base import BaseCommand, CommandError

from .evaluate_lm import model_dir


class Command(BaseCommand):
    help = "Print the most probable next words for a prompt."

    def add_arguments(self, parser):
        parser.add_argument("prompt")
        parser.add_argument("--model", default=None, help="model dir (default: MODELS_DIR/lm-ptb-lstm)")
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--include-special", action="store_true", help="allow <unk> and <eos>")
        parser.add_argument("--sample", type=int, default=0, metavar="N", help="sample N words instead")
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--top-k", type=int, default=40)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        from ml.lm.predictor import NextWordPredictor

        try:
            p = NextWordPredictor.from_dir(model_dir(opts["model"]))
            if opts["sample"]:
                words = p.sample(opts["prompt"], opts["sample"], opts["temperature"], opts["top_k"], opts["seed"])
                self.stdout.write(json.dumps(words) if opts["json"] else " ".join(words))
                return
            sugg = p.suggest(opts["prompt"], k=opts["k"], include_special=opts["include_special"])
        except (FileNotFoundError, ValueError) as e:
            raise CommandError(str(e))
        if opts["json"]:
            self.stdout.write(json.dumps(sugg))
        else:
            for s in sugg:
                self.stdout.write(f"{s['word']:<16} {s['prob']:.4f}")
