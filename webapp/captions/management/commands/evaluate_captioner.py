"""Score a captioning model on a folder of captioned images (BLEU-1..4, CIDEr, METEOR with Java)."""
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.caption.captioner import Captioner
from ml.caption.checkpoint import CheckpointError
from ml.caption.data import DatasetLayoutError, ImageLoadError, detect_layout, read_captions, read_split
from ml.caption.evaluate import evaluate_folder

KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "cider", "meteor", "n_images", "seconds_per_image",
        "distinct_words", "unk_captions")


class Command(BaseCommand):
    help = "Caption every image of a dataset folder and score against its reference captions."

    def add_arguments(self, parser):
        parser.add_argument("--images", required=True, help="folder of images (or a dataset root)")
        parser.add_argument("--captions", help="captions file; auto-detected when omitted")
        parser.add_argument("--format", choices=["kaggle", "flickr8k", "karpathy"])
        parser.add_argument("--beam", type=int, default=3)
        parser.add_argument("--model", default=str(Path(settings.MODELS_DIR) / "caption-flickr8k"))
        parser.add_argument("--split-file", help="only the image names listed in this file")
        parser.add_argument("--limit", type=int, default=0, help="only the first N images")
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--threads", type=int, default=1,
                            help="torch threads (1 is fastest when other jobs share the CPU; 0 = torch default)")
        parser.add_argument("--save-captions", help="write {image: caption} JSON here")
        parser.add_argument("--int8", choices=["auto", "on", "off"], default="auto",
                            help="int8 decoder (auto = the model config's inference.int8_decoder)")
        parser.add_argument("--bf16-encoder", choices=["auto", "on", "off"], default="auto",
                            help="bf16 MobileNetV2 (auto = the config's inference.bf16_encoder, on native-bf16 CPUs)")
        parser.add_argument("--length-alpha", type=float,
                            help="beam ranking: logprob / n_tokens ** alpha (default: the model config's decode.length_alpha)")
        parser.add_argument("--block-ngram", type=int,
                            help="never repeat an n-gram of this size, 0 = off (default: the model config's)")
        parser.add_argument("--max-len", type=int, help="longest caption in words (default: the model config's)")
        parser.add_argument("--no-meteor", action="store_true", help="skip METEOR (it starts a slow Java process)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **o):
        overrides = self._decode_overrides(o)
        try:
            images_dir, refs = self._references(o)
            setting = {"auto": None, "on": True, "off": False}   # auto = what the model's config says
            captioner = Captioner.from_dir(o["model"], num_threads=o["threads"] or None, int8=setting[o["int8"]],
                                           bf16_encoder=setting[o["bf16_encoder"]])
            captioner.decode_options.update(overrides)
            metrics = evaluate_folder(captioner, images_dir, refs, beam=o["beam"], batch_size=o["batch_size"],
                                      meteor=False if o["no_meteor"] else None)
        except (FileNotFoundError, DatasetLayoutError, CheckpointError, ImageLoadError) as exc:
            raise CommandError(str(exc)) from exc
        if o["save_captions"]:
            Path(o["save_captions"]).write_text(json.dumps(metrics["hypotheses"], indent=1))
        out = {k: metrics[k] for k in KEYS if k in metrics}
        if o["json"]:
            self.stdout.write(json.dumps(out))
        else:
            for k, v in out.items():
                self.stdout.write(f"{k:18s} {v:.4f}" if isinstance(v, float) else f"{k:18s} {v}")

    @staticmethod
    def _decode_overrides(o) -> dict:
        overrides = {k: o[k] for k in ("length_alpha", "block_ngram", "max_len") if o[k] is not None}
        if overrides.get("length_alpha", 0.0) < 0:
            raise CommandError("--length-alpha must be >= 0")
        if overrides.get("block_ngram", 0) < 0:
            raise CommandError("--block-ngram must be >= 0 (0 = off)")
        if not 1 <= overrides.get("max_len", 1) <= 100:
            raise CommandError("--max-len must be between 1 and 100")
        if o["beam"] < 1:
            raise CommandError("--beam must be >= 1")
        return overrides

    def _references(self, o):
        images = Path(o["images"])
        if o["captions"]:
            refs = read_captions(o["captions"], o["format"])
            images_dir = images
        else:
            # --images may be the dataset root or its image folder: look in both for a captions file.
            try:
                fmt, captions_file, found = detect_layout(images)
            except DatasetLayoutError:
                fmt, captions_file, found = detect_layout(images.parent)
                found = images
            refs = read_captions(captions_file, o["format"] or fmt)
            images_dir = found
        if not images_dir.is_dir():
            raise FileNotFoundError(f"images folder not found: {images_dir}")
        present = {p.name for p in images_dir.iterdir()}
        refs = {k: v for k, v in refs.items() if k in present}
        if o["split_file"]:
            wanted = set(read_split(o["split_file"]))
            refs = {k: v for k, v in refs.items() if k in wanted}
        if o["limit"]:
            refs = dict(sorted(refs.items())[:o["limit"]])
        if not refs:
            raise DatasetLayoutError(f"no image in {images_dir} has a reference caption")
        return images_dir, refs
