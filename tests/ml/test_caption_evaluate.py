"""evaluate / train / management commands on tiny folders made from a few shared Flickr8k photos.

Skips when the shared Flickr8k copy is absent (set FLICKR8K_DIR to point at it).
"""
import json
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command

from ml.caption.captioner import Captioner
from ml.caption.data import DatasetLayoutError
from ml.caption.evaluate import evaluate_folder, java_available, score_captions, simple_tokenize
from ml.caption.testing import make_layout, sample_dataset, tiny_model_dir

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "caption-flickr8k"


@pytest.fixture(scope="module")
def sample():
    try:
        return sample_dataset(5)
    except (FileNotFoundError, DatasetLayoutError):
        pytest.skip("Flickr8k not found: set FLICKR8K_DIR (default <repo>/../shared/data/flickr8k)")


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


def test_sentence_bleu4_is_pycocoevalcaps_per_caption_score():
    from pycocoevalcap.bleu.bleu import Bleu

    from ml.caption.scst import sentence_bleu4

    refs = {"1": ["a dog runs on the green grass", "a brown dog is running"], "2": ["two kids play in the water"],
            "3": ["a man rides a bike down the road", "a person on a bicycle"]}
    hyps = {"1": "a brown dog is running on the grass", "2": "two kids play in the water", "3": "a red car"}
    _, (*_, theirs) = Bleu(4).compute_score(refs, {k: [v] for k, v in hyps.items()}, verbose=0)
    ours = sentence_bleu4([hyps[k].split() for k in refs], [[r.split() for r in refs[k]] for k in refs])
    assert ours == pytest.approx(theirs, abs=1e-9)
    assert ours[1] == pytest.approx(1.0) and ours[2] < 1e-3 < ours[0] < 1.0


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


def test_train_smoke_progress_stop_and_resume(tmp_path, sample):
    from ml.caption.train import TrainConfig, train

    images_dir, _, _ = sample
    _, names, caps = sample_dataset(12)
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, caps)
    (tmp_path / "train.txt").write_text("\n".join(names[:8]))
    (tmp_path / "val.txt").write_text("\n".join(names[8:]))
    cfg = TrainConfig(data_dir=str(root), train_split=str(tmp_path / "train.txt"),
                      val_split=str(tmp_path / "val.txt"), out_dir=str(tmp_path / "run"),
                      export_dir=str(tmp_path / "export"), cache_root=str(tmp_path / "cache"),
                      min_freq=1, embed_dim=16, hidden_dim=16, attention_dim=16, proj_dim=16,
                      batch_images=4, max_epochs=2, warmup_steps=1, val_beam=2, num_threads=0)
    events = []
    stop_after = {"n": 0}

    def should_stop():
        stop_after["n"] += 1
        return stop_after["n"] > 4            # 1 check while caching 12 images, 3 steps, then stop

    first = train(cfg, on_progress=events.append, should_stop=should_stop)
    assert first["status"] == "stopped" and first["step"] == 3
    assert (tmp_path / "run" / "last" / "trainer.json").is_file()
    epoch_events = [e for e in events if e["event"] == "epoch"]
    assert epoch_events and {"bleu4", "cider"} <= set(epoch_events[0]["val"])
    step = next(e for e in events if e["event"] == "step")
    assert {"epoch", "step", "total_steps", "loss"} <= set(step)

    events.clear()
    cfg.scst_epochs = 1                       # then one self-critical epoch from the best model
    second = train(cfg, on_progress=events.append)
    first_event = next(e for e in events if e["event"] != "warning")  # CPUs without bf16 say so first
    assert first_event["event"] == "resumed" and first_event["step"] == 3
    assert second["status"] == "finished" and second["step"] == 6
    assert any(e["event"] == "step" and e.get("phase") == "scst" and "reward" in e for e in events)
    exported = Captioner.from_dir(second["export_dir"])
    assert isinstance(exported.caption(images_dir / names[0])["caption"], str)
    assert json.loads((Path(second["export_dir"]) / "metrics.json").read_text())["val"]


def test_train_fine_tunes_last_block_from_partial_cache(tmp_path, sample):
    from ml.caption.checkpoint import load_model
    from ml.caption.train import TrainConfig, train

    images_dir, _, _ = sample
    _, names, caps = sample_dataset(8)
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, caps)
    (tmp_path / "train.txt").write_text("\n".join(names[:6]))
    (tmp_path / "val.txt").write_text("\n".join(names[6:]))
    cfg = TrainConfig(data_dir=str(root), train_split=str(tmp_path / "train.txt"),
                      val_split=str(tmp_path / "val.txt"), out_dir=str(tmp_path / "run"),
                      cache_root=str(tmp_path / "cache"), min_freq=1, embed_dim=16, hidden_dim=16,
                      attention_dim=16, proj_dim=16, batch_images=3, max_epochs=1, warmup_steps=1,
                      val_beam=1, fine_tune_blocks=1, encoder_lr=1e-2)
    result = train(cfg)
    encoder, _, _, config = load_model(result["best_dir"])
    assert config["encoder"]["fine_tune_blocks"] == 1
    from ml.caption.encoder import Encoder
    reference = Encoder(pretrained=True)
    assert not torch.equal(encoder.features[18][0].weight, reference.features[18][0].weight)  # it trained
    assert torch.equal(encoder.features[17].conv[0][0].weight, reference.features[17].conv[0][0].weight)


def test_stop_while_building_feature_cache_then_resume(tmp_path, sample):
    from ml.caption.train import TrainConfig, train

    images_dir, _, _ = sample
    _, names, caps = sample_dataset(6)
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, caps)
    (tmp_path / "train.txt").write_text("\n".join(names[:4]))
    (tmp_path / "val.txt").write_text("\n".join(names[4:]))
    cfg = TrainConfig(data_dir=str(root), train_split=str(tmp_path / "train.txt"),
                      val_split=str(tmp_path / "val.txt"), out_dir=str(tmp_path / "run"),
                      cache_root=str(tmp_path / "cache"), min_freq=1, embed_dim=16, hidden_dim=16,
                      attention_dim=16, proj_dim=16, batch_images=2, max_epochs=1, warmup_steps=1, val_beam=1)
    events = []
    assert train(cfg, on_progress=events.append, should_stop=lambda: True)["status"] == "stopped"
    result = train(cfg, on_progress=events.append)
    assert result["status"] == "finished"
    feature_events = [e for e in events if e["event"] == "features"]
    assert feature_events and feature_events[-1]["done"] == feature_events[-1]["total"] == 6


def test_flip_augmentation_mirrors_features_and_swaps_left_right(tmp_path, sample):
    from ml.caption.features import build_cache
    from ml.caption.train import TrainConfig, _Data, _swap_left_right, train
    from ml.caption.vocab import Vocab

    images_dir, _, _ = sample
    _, names, caps = sample_dataset(6)
    caps = {n: [cs[0] + " on the left", cs[1] + " to the right", *cs[2:]] for n, cs in caps.items()}
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, caps)
    (tmp_path / "train.txt").write_text("\n".join(names[:4]))
    (tmp_path / "val.txt").write_text("\n".join(names[4:]))
    cfg = TrainConfig(data_dir=str(root), train_split=str(tmp_path / "train.txt"),
                      val_split=str(tmp_path / "val.txt"), out_dir=str(tmp_path / "run"),
                      cache_root=str(tmp_path / "cache"), min_freq=1, embed_dim=16, hidden_dim=16,
                      attention_dim=16, proj_dim=16, batch_images=2, max_epochs=1, warmup_steps=1,
                      val_beam=1, flip_prob=0.5)
    data = _Data(cfg, None)
    plain, mirrored = data.features["train"], data.features["train_flipped"]
    assert mirrored.shape == plain.shape and not torch.equal(mirrored, plain)
    # The mirrored cache holds the features of the mirrored photo, row for row.
    direct = build_cache(root / "Images", data.train_names[:1], tmp_path / "one", hflip=True)
    alone = direct.stack(data.train_names[:1])[0].float()
    assert torch.allclose(alone, mirrored[0].float(), atol=2e-2)   # batch of 1 vs 4: float noise only
    assert not torch.allclose(alone, plain[0].float(), atol=2e-2)

    name = data.train_names[0]
    inputs, captions, _, index = data.batch([name, data.train_names[1]], flipped=[True, False])
    assert torch.equal(inputs[0], mirrored[0].float()) and torch.equal(inputs[1], plain[1].float())
    left, right = data.vocab.stoi["left"], data.vocab.stoi["right"]
    mirrored_caps, plain_caps = captions[index == 0], captions[index == 1]
    assert int((mirrored_caps == left).sum()) == int((plain_caps == right).sum()) == 1
    assert int((mirrored_caps == right).sum()) == int((plain_caps == left).sum()) == 1
    vocab = Vocab.build(["the dog on the left looks right"], min_freq=1)
    ids = vocab.encode("the dog on the left looks right")
    assert vocab.decode(_swap_left_right(ids, vocab)) == "the dog on the right looks left".split()
    assert train(cfg)["status"] == "finished"


def test_keep_last_runs_a_fixed_schedule_on_train_plus_val(tmp_path, sample):
    """--keep last: every epoch runs and the last is kept (no early stopping, val only reported); a val
    split that is also trained on is named in a warning."""
    from ml.caption.checkpoint import load_model
    from ml.caption.train import TrainConfig, train

    images_dir, _, _ = sample
    _, names, caps = sample_dataset(6)
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, caps)
    (tmp_path / "trainval.txt").write_text("\n".join(names))
    (tmp_path / "val.txt").write_text("\n".join(names[4:]))
    cfg = TrainConfig(data_dir=str(root), train_split=str(tmp_path / "trainval.txt"),
                      val_split=str(tmp_path / "val.txt"), out_dir=str(tmp_path / "run"),
                      cache_root=str(tmp_path / "cache"), min_freq=1, embed_dim=16, hidden_dim=16,
                      attention_dim=16, proj_dim=16, batch_images=3, max_epochs=3, patience=1, warmup_steps=1,
                      val_beam=1, keep="last", scst_epochs=2, scst_patience=1, lr=3e-2, scst_lr=3e-2)
    events = []
    result = train(cfg, on_progress=events.append)
    assert result["status"] == "finished"
    warning = next(e["message"] for e in events if e["event"] == "warning" and "val" in e["message"])
    assert "2 of 2 val images are also training images" in warning
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 1, 2] and all(e["improved"] for e in epochs)
    assert result["best_epoch"] == "scst2"
    _, kept, _, _ = load_model(result["best_dir"])
    _, last, _, _ = load_model(tmp_path / "run" / "last")
    assert all(torch.equal(a, b) for a, b in zip(kept.state_dict().values(), last.state_dict().values()))

    cfg.keep = "newest"
    with pytest.raises(ValueError, match="keep must be one of"):
        train(cfg)


def test_ensemble_captioner_command(tmp_path):
    from ml.caption.checkpoint import save_model
    from ml.caption.testing import TINY_WORDS, tiny_decoder
    from ml.caption.vocab import Vocab

    vocab = Vocab.build([TINY_WORDS], min_freq=1)
    first = tiny_model_dir(tmp_path / "a")
    second = save_model(tmp_path / "b", tiny_decoder(vocab, seed=5), vocab, metrics={"val": {"cider": 0.1}})
    call_command("ensemble_captioner", str(first), str(second), "--out", str(tmp_path / "ab"))
    config = json.loads((tmp_path / "ab" / "config.json").read_text())
    metrics = json.loads((tmp_path / "ab" / "metrics.json").read_text())
    assert config["ensemble_size"] == 2 and config["manifest"]["kind"] == "caption"
    assert [m["source"] for m in metrics["members"]] == [str(first), str(second)]
    assert metrics["members"][1]["val"] == {"cider": 0.1} and "ensemble_captioner" in metrics["command"]
    with pytest.raises(CommandError, match="at least two"):
        call_command("ensemble_captioner", str(first), "--out", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="not a caption model"):
        call_command("ensemble_captioner", str(first), str(tmp_path / "missing"), "--out", str(tmp_path / "x"))
