"""Caption one image with the shipped (or a given) captioning model."""
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.caption.captioner import Captioner
from ml.caption.checkpoint import CheckpointError
from ml.caption.data import ImageLoadError


class Command(BaseCommand):
    help = "Print the best caption and the n-best list for an image."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--beam", type=int, default=3)
        parser.add_argument("--model", default=str(Path(settings.MODELS_DIR) / "caption-flickr8k"))
        parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
        parser.add_argument("--json", action="store_true", help="full result incl. attention maps")

    def handle(self, *args, **o):
        try:
            captioner = Captioner.from_dir(o["model"], num_threads=o["threads"] or None)
            result = captioner.caption(o["path"], beam=o["beam"], attention=o["json"])
        except (FileNotFoundError, ImageLoadError, CheckpointError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if o["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(result["caption"])
        for i, b in enumerate(result["beams"], 1):
            self.stdout.write(f"  {i}. {b['caption']}  (logprob {b['logprob']:.3f}, score {b['score']:.3f})")
        self.stdout.write(f"  {result['seconds'] * 1000:.0f} ms")
