"""Scores, evaluation and the captioning commands, on folders made from the drawn image-caption set.

test_caption_flickr8k.py runs the same on real Flickr8k photos when they are present."""
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ml.caption.captioner import Captioner
from ml.caption.evaluate import evaluate_folder, java_available, score_captions, simple_tokenize
from tests.support.captions import make_layout, tiny_model_dir

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "caption-flickr8k"


@pytest.fixture(scope="module")
def sample(synthetic_captions):
    """``(images_dir, names, captions)`` of five drawn images."""
    root, names, captions = synthetic_captions
    return root / "Images", names[:5], {n: captions[n] for n in names[:5]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The shipped model when present, else a tiny random one (scores are then ~0 but well-formed)."""
    if (SHIPPED / "weights.safetensors").is_file():
        return SHIPPED
    return tiny_model_dir(tmp_path_factory.mktemp("model") / "caption-tiny")


def test_scst_cider_matches_pycocoevalcap():
    from pycocoevalcap.cider.cider import Cider

    from ml.caption.scst import CiderD

    refs = {"1": ["a dog runs on the grass", "a brown dog is running"], "2": ["two kids play in water"],
            "3": ["a man rides a bike", "a person on a bicycle"]}
    hyps = {"1": "a dog is running", "2": "kids play in the water", "3": "a man on a bike"}
    _, ours = zip(*[(k, CiderD(refs).score(hyps[k].split(), k)) for k in refs])
    _, theirs = Cider().compute_score(refs, {k: [v] for k, v in hyps.items()})
    assert list(ours) == pytest.approx(list(theirs), abs=1e-6)


def test_early_stop_score_adds_bleu4_and_cider():
    from ml.caption.train import early_stop_score

    val = {"bleu4": 0.25, "cider": 0.6}
    assert early_stop_score(val, "cider") == 0.6 and early_stop_score(val, "bleu4") == 0.25
    assert early_stop_score(val, "bleu4+cider") == pytest.approx(0.85)
    with pytest.raises(ValueError, match="early_stop_metric"):
        early_stop_score(val, "meteor")


def test_scores_perfect_and_bad():
    refs = {"1": ["a dog runs on the grass", "a brown dog is running"], "2": ["two kids play in water"]}
    perfect = score_captions(refs, {"1": "a dog runs on the grass", "2": "two kids play in water"}, meteor=False)
    bad = score_captions(refs, {"1": "an airplane", "2": "a red car"}, meteor=False)
    assert perfect["bleu1"] > 0.99 and perfect["bleu4"] > bad["bleu4"] and perfect["cider"] > bad["cider"]
    assert simple_tokenize("A dog, running!") == "a dog running"


def test_evaluate_command_decoding_overrides(tmp_path, sample, model_dir, capsys):
    images_dir, names, caps = sample
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, caps)
    saved = tmp_path / "captions.json"
    call_command("evaluate_captioner", "--images", str(root), "--json", "--model", str(model_dir), "--no-meteor",
                 "--max-len", "3", "--block-ngram", "0", "--length-alpha", "0", "--save-captions", str(saved))
    captions = json.loads(saved.read_text())
    assert len(captions) == 5 and all(1 <= len(c.split()) <= 3 for c in captions.values())
    for bad, message in ((["--length-alpha", "-1"], "length-alpha"), (["--block-ngram", "-2"], "block-ngram"),
                         (["--max-len", "0"], "max-len"), (["--beam", "0"], "beam")):
        with pytest.raises(CommandError, match=message):
            call_command("evaluate_captioner", "--images", str(root), "--model", str(model_dir), *bad)


@pytest.mark.parametrize("layout", ["kaggle", "flickr8k", "karpathy"])
def test_evaluate_command_on_each_layout(tmp_path, sample, model_dir, layout, capsys):
    images_dir, names, caps = sample
    root = make_layout(tmp_path / layout, layout, images_dir, names, caps)
    captions_file = next(p for p in root.rglob("*") if p.name in
                         ("captions.txt", "Flickr8k.token.txt", "dataset_flickr8k.json"))
    image_folder = next(p for p in root.iterdir() if p.is_dir() and p.name != "Flickr8k_text")
    # METEOR starts a slow Java process: exercise it on one layout only.
    no_meteor = [] if layout == "kaggle" else ["--no-meteor"]
    call_command("evaluate_captioner", "--images", str(image_folder), "--captions", str(captions_file),
                 "--format", layout, "--beam", "2", "--json", "--model", str(model_dir), *no_meteor)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["n_images"] == 5 and out["seconds_per_image"] > 0
    assert {"bleu1", "bleu2", "bleu3", "bleu4", "cider"} <= set(out)
    assert ("meteor" in out) == (java_available() and not no_meteor)
    # Without --captions/--format the layout is detected from the dataset root.
    call_command("evaluate_captioner", "--images", str(root), "--json", "--model", str(model_dir),
                 "--beam", "1", "--no-meteor")
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n_images"] == 5


def test_evaluate_folder_reports_speed_and_words(sample, model_dir):
    images_dir, names, caps = sample
    metrics = evaluate_folder(Captioner.from_dir(model_dir), images_dir, caps, beam=3, meteor=False)
    assert metrics["n_images"] == 5 and metrics["unk_captions"] == 0
    assert set(metrics["hypotheses"]) == set(names)


def test_evaluate_command_bad_folder(tmp_path, model_dir):
    with pytest.raises(CommandError):
        call_command("evaluate_captioner", "--images", str(tmp_path), "--model", str(model_dir))


def test_caption_image_command(sample, model_dir, capsys, tmp_path):
    images_dir, names, _ = sample
    call_command("caption_image", str(images_dir / names[0]), "--beam", "3", "--model", str(model_dir))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] and lines[1].strip().startswith("1. ")
    bad = tmp_path / "fake.jpg"
    bad.write_text("not an image")
    with pytest.raises(CommandError, match="not a readable image"):
        call_command("caption_image", str(bad), "--model", str(model_dir))
