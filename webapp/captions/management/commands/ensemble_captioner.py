"""Combine the decoders of several trained captioners into one ensemble model directory."""
import json
import shlex
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.caption.checkpoint import CheckpointError, combine, make_manifest


class Command(BaseCommand):
    help = ("Save the decoders of MODEL_DIR ... (same vocabulary, same frozen encoder) as one ensemble whose "
            "beam search averages their word probabilities. Decoding settings come from the first.")

    def add_arguments(self, parser):
        parser.add_argument("members", nargs="+", help="model directories (an ensemble counts as its members)")
        parser.add_argument("--out", required=True, help="directory to write (replaced atomically)")
        parser.add_argument("--label", default="Show, Attend and Tell captioner (MobileNetV2 + LSTM ensemble, "
                                                "Flickr8k)")

    def handle(self, *args, **o):
        if len(o["members"]) < 2:
            raise CommandError("name at least two model directories")
        members = [Path(m) for m in o["members"]]
        metrics = {"command": "python manage.py ensemble_captioner " + shlex.join(sys.argv[2:]),
                   "members": [_metrics(m) for m in members]}
        try:
            out = combine(members, o["out"], metrics=metrics, manifest=make_manifest(label=o["label"]))
        except (CheckpointError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"wrote {out} ({json.loads((out / 'config.json').read_text())['ensemble_size']} decoders)")


def _metrics(directory: Path) -> dict:
    path = directory / "metrics.json"
    return {"source": str(directory), **(json.loads(path.read_text()) if path.is_file() else {})}
