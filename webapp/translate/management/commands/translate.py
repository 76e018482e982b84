"""Translate one English sentence and print the translation and the n-best list.

    python manage.py translate "A man is riding a bike." --model models/translate-en-de --beam 5
"""
import json

from django.core.management.base import BaseCommand, CommandError

from .evaluate_translator import DEFAULT_MODEL, model_dir


class Command(BaseCommand):
    help = "Translate a sentence with a translation model directory."

    def add_arguments(self, parser):
        parser.add_argument("text")
        parser.add_argument("--model", default=None, help=f"model dir (default: MODELS_DIR/{DEFAULT_MODEL})")
        parser.add_argument("--beam", type=int, default=None, help="beam width 1-10 (default: the model's, 5)")
        parser.add_argument("--json", action="store_true", help="print the whole result as JSON")

    def handle(self, *args, **opts):
        from ml.translate.translator import Translator

        try:
            result = Translator.from_dir(model_dir(opts["model"])).translate(opts["text"], beam=opts["beam"])
        except (FileNotFoundError, ValueError) as e:
            raise CommandError(str(e))
        if opts["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(result["translation"])
        for rank, hypothesis in enumerate(result["nbest"], 1):
            self.stdout.write(f"  {rank}. {hypothesis['score']:8.4f}  {hypothesis['text']}")
