"""Score a translation model with sacreBLEU on a source file and its reference translations.

    python manage.py evaluate_translator --src test.en --ref test.de --model models/translate-en-de --beam 5 --json
    python manage.py evaluate_translator --split test_2016_flickr --model models/translate-en-de --record
    python manage.py evaluate_translator --split val --model models/translate-en-de --choose-alpha 0.6,0.8,1.0 --save

Prints {"bleu", "chrf", "n_sentences", "seconds_per_sentence", "bleu_signature", ...}: sacreBLEU's defaults (13a
tokenisation, cased) on detokenised output. ``--split`` reads a Multi30k split in the model's languages;
``--record`` stores the figures and BLEU by source length in the model's metrics.json under the split's name.
``--choose-alpha`` scores each length exponent in turn (choose on val, never on a test split); ``--save`` writes
the best one into the model's config.json, where serving reads it.
"""
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_MODEL = "translate-en-de"
DECODE_OPTIONS = ("length_alpha", "block_ngram")   # decoding settings besides the beam an evaluation may override


def model_dir(value) -> Path:
    if not value:
        return Path(settings.MODELS_DIR) / DEFAULT_MODEL
    path = Path(value)
    if not path.is_absolute() and not path.exists() and (Path(settings.MODELS_DIR) / value).exists():
        return Path(settings.MODELS_DIR) / value   # a bare name like "translate-en-fr"
    return path


class Command(BaseCommand):
    help = "Evaluate a translator (sacreBLEU BLEU and chrF) on a source file and its references."

    def add_arguments(self, parser):
        parser.add_argument("--src", help="source sentences, one a line (.gz allowed)")
        parser.add_argument("--ref", help="reference translations, line-aligned with --src")
        parser.add_argument("--split", help="instead of --src/--ref: a Multi30k split (val, test_2016_flickr)")
        parser.add_argument("--model", default=None, help=f"model dir (default: MODELS_DIR/{DEFAULT_MODEL})")
        parser.add_argument("--beam", type=int, default=None, help="beam width (default: the model's, 5)")
        parser.add_argument("--length-alpha", type=float, default=None,
                            help="rank finished hypotheses by log p / n ** this (default: the model's)")
        parser.add_argument("--block-ngram", type=int, default=None,
                            help="never repeat an n-gram of this many pieces, 0 = off (default: the model's)")
        parser.add_argument("--choose-alpha", default=None, metavar="A,B,...",
                            help="score each length exponent and report the best")
        parser.add_argument("--save", action="store_true", help="with --choose-alpha: store the best in config.json")
        parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--record", action="store_true", help="store the result in the model's metrics.json")

    def handle(self, *args, **opts):
        import torch

        from ml.translate.data import multi30k_pairs, read_lines
        from ml.translate.evaluate import evaluate
        from ml.translate.translator import Translator

        if opts["choose_alpha"] and (opts["split"] or "").startswith("test"):
            raise CommandError("choose decoding on val: a test split scores the choice, it does not make it")
        if opts["threads"]:
            torch.set_num_threads(opts["threads"])
        path = model_dir(opts["model"])
        try:
            translator = Translator.from_dir(path)
            if opts["split"]:
                pairs = multi30k_pairs(opts["split"], translator.config["source"], translator.config["target"])
                sources, references = [s for s, _ in pairs], [t for _, t in pairs]
            elif opts["src"] and opts["ref"]:
                sources, references = read_lines(opts["src"]), read_lines(opts["ref"])
            else:
                raise CommandError("give --src and --ref, or --split")
            if len(sources) != len(references):
                raise CommandError(f"{len(sources)} source lines but {len(references)} references")
            for key in DECODE_OPTIONS:
                if opts[key] is not None:
                    translator.decode = {**translator.decode, key: opts[key]}
            if opts["choose_alpha"]:
                return self.choose_alpha(translator, path, parse_alphas(opts["choose_alpha"]), sources,
                                         references, opts)
            result = evaluate(lambda s: translator.translate(s, beam=opts["beam"])["translation"], sources,
                              references)
        except (FileNotFoundError, ValueError) as e:
            raise CommandError(str(e))
        result["beam"] = opts["beam"] or translator.decode["beam"]
        result["decode"] = {k: translator.decode[k] for k in DECODE_OPTIONS}
        hypotheses = result.pop("hypotheses")
        if opts["record"]:
            key = opts["split"] or Path(opts["src"]).name
            metrics_path = path / "metrics.json"
            metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
            metrics[key] = result
            metrics_path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
        if opts["json"]:
            self.stdout.write(json.dumps(result))
        else:
            for hypothesis in hypotheses[:3]:
                self.stdout.write(f"  {hypothesis}")
            self.stdout.write(f"BLEU {result['bleu']}  chrF {result['chrf']}  ({result['n_sentences']} sentences, "
                              f"{result['seconds_per_sentence'] * 1000:.1f} ms each, beam {result['beam']})")
            self.stdout.write(result["bleu_signature"])

    def choose_alpha(self, translator, path: Path, alphas: list[float], sources, references, opts) -> None:
        from ml.translate.checkpoint import read_config, write_json
        from ml.translate.evaluate import score_length_exponents

        rows = score_length_exponents(translator, sources, references, alphas, beam=opts["beam"])
        best = max(rows, key=lambda r: (r["bleu"], r["chrf"]))
        if opts["save"]:
            config = read_config(path)
            config["decode"] = {**config["decode"], "length_alpha": best["length_alpha"]}
            write_json(path / "config.json", config)
        if opts["json"]:
            self.stdout.write(json.dumps({"best": best, "tried": rows, "saved": opts["save"]}))
            return
        for row in rows:
            self.stdout.write(f"length_alpha {row['length_alpha']:g}: BLEU {row['bleu']}  chrF {row['chrf']}")
        self.stdout.write(f"best: length_alpha {best['length_alpha']:g}" + (" (saved)" if opts["save"] else ""))


def parse_alphas(text: str) -> list[float]:
    try:
        alphas = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise CommandError(f"--choose-alpha wants numbers separated by commas, not {text!r}")
    if not alphas or any(not 0 <= a <= 3 for a in alphas):
        raise CommandError("--choose-alpha wants one or more exponents between 0 and 3")
    return alphas
