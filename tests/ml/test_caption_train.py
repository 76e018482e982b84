"""Captioner training on a drawn image-caption set: progress, stop and resume, SCST, export, warm starts."""
import json
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command

from ml.caption.captioner import Captioner
from ml.caption.checkpoint import load_model
from ml.caption.encoder import Encoder
from ml.caption.features import build_cache
from ml.caption.train import CaptionConfig, CaptionData, swap_left_right, train
from ml.caption.vocab import Vocab

SMALL = {"min_freq": 1, "embed_dim": 16, "hidden_dim": 16, "attention_dim": 16, "proj_dim": 16, "warmup_steps": 1,
         "val_beam": 1, "epochs": 1, "batch_images": 4, "bf16": False}


def config(tmp_path, dataset, run="run", n_train=8, n_val=4, cache=None, **changes) -> CaptionConfig:
    """A small run on the first n_train + n_val images of ``dataset`` (its own split files); the image features
    are cached once for all tests unless ``cache`` names another folder."""
    root, names, _ = dataset
    splits = tmp_path / "splits"
    splits.mkdir(exist_ok=True)
    (splits / "train.txt").write_text("\n".join(names[:n_train]))
    (splits / "val.txt").write_text("\n".join(names[n_train:n_train + n_val]))
    return CaptionConfig(**{**SMALL, "data_dir": str(root), "train_split": str(splits / "train.txt"),
                            "val_split": str(splits / "val.txt"), "run_dir": str(tmp_path / run),
                            "cache_root": str(cache or root.parent / f"{root.name}-features"), **changes})


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, synthetic_captions):
    """A cross-entropy model to warm-start from (a few epochs at a high learning rate)."""
    tmp = tmp_path_factory.mktemp("teacher")
    return train(config(tmp, synthetic_captions, epochs=3, lr=3e-3))["best_dir"]


def test_progress_stop_resume_scst_and_export(tmp_path, synthetic_captions):
    cfg = config(tmp_path, synthetic_captions, n_train=12, epochs=2, export_dir=str(tmp_path / "export"))
    events, checks = [], {"n": 0}

    def should_stop():
        checks["n"] += 1
        return checks["n"] > 6            # 2 checks while caching 36 images, 4 steps, then stop

    first = train(cfg, on_progress=events.append, should_stop=should_stop)
    assert first["status"] == "cancelled" and first["step"] == 4 and first["export_dir"] is None
    assert (tmp_path / "run" / "last" / "state.json").is_file()
    epoch = next(e for e in events if e["event"] == "epoch")
    assert {"bleu4", "cider"} <= set(epoch["val"]) and epoch["epoch"] == 1
    step = next(e for e in events if e["event"] == "step")
    assert {"phase", "epoch", "step", "total_steps", "loss", "ce", "lr", "elapsed_s"} <= set(step)
    with pytest.raises(ValueError, match="holds a run already"):
        train(cfg)

    events.clear()
    cfg.resume, cfg.scst_epochs = True, 1     # then one self-critical epoch from the best model
    second = train(cfg, on_progress=events.append)
    assert events[0]["event"] == "resumed" and events[0]["step"] == 4
    assert second["status"] == "finished" and second["step"] == 9
    assert any(e["event"] == "step" and e["phase"] == "scst" and "reward" in e for e in events)
    assert events[-1] == {"event": "done", **second}
    exported = Captioner.from_dir(second["export_dir"])
    root, names, _ = synthetic_captions
    assert isinstance(exported.caption(root / "Images" / names[0])["caption"], str)
    assert json.loads((Path(second["export_dir"]) / "metrics.json").read_text())["val"]
    assert load_model(second["export_dir"])[3]["inference"]["int8_decoder"] is True


def test_a_small_run_learns_the_drawn_scenes(tmp_path, synthetic_captions):
    """Not a quality bar, a sign of life: after training, validation captions name the drawn things."""
    result = train(config(tmp_path, synthetic_captions, n_train=28, n_val=8, epochs=8, lr=1e-2, embed_dim=32,
                          hidden_dim=32, attention_dim=32, proj_dim=32, dropout=0.0, label_smoothing=0.0, patience=8,
                          time_budget_min=2))
    assert result["best"] > 0.4, result   # CIDEr: measured 0.9-2.4; an untrained decoder scores ~0.03


def test_fine_tunes_the_last_block_from_a_partial_cache(tmp_path, synthetic_captions):
    result = train(config(tmp_path, synthetic_captions, n_train=6, n_val=2, batch_images=3, fine_tune_blocks=1,
                          encoder_lr=1e-2))
    encoder, _, _, config_json = load_model(result["best_dir"])
    assert config_json["encoder"]["fine_tune_blocks"] == 1
    reference = Encoder(pretrained=True)
    assert not torch.equal(encoder.features[18][0].weight, reference.features[18][0].weight)  # it trained
    assert torch.equal(encoder.features[17].conv[0][0].weight, reference.features[17].conv[0][0].weight)


def test_stop_while_building_the_feature_cache_then_start_again(tmp_path, synthetic_captions):
    cfg = config(tmp_path, synthetic_captions, n_train=4, n_val=2, batch_images=2, cache=tmp_path / "cache")
    events = []
    assert train(cfg, on_progress=events.append, should_stop=lambda: True)["status"] == "cancelled"
    assert train(cfg, on_progress=events.append)["status"] == "finished"
    features = [e for e in events if e["event"] == "features"]
    assert features and features[-1]["done"] == features[-1]["total"] == 36


def test_flip_augmentation_mirrors_features_and_swaps_left_right(tmp_path, synthetic_captions):
    root, names, _ = synthetic_captions
    cfg = config(tmp_path, synthetic_captions, n_train=4, n_val=2, batch_images=2, flip_prob=0.5)
    data = CaptionData(cfg, None)
    plain, mirrored = data.features["train"], data.features["train_flipped"]
    assert mirrored.shape == plain.shape and not torch.equal(mirrored, plain)
    # The mirrored cache holds the features of the mirrored picture, row for row.
    direct = build_cache(root / "Images", data.train_names[:1], tmp_path / "one", hflip=True)
    alone = direct.stack(data.train_names[:1])[0].float()
    assert torch.allclose(alone, mirrored[0].float(), atol=2e-2)   # batch of 1 vs 4: float noise only
    assert not torch.allclose(alone, plain[0].float(), atol=2e-2)

    first, second = data.train_names[:2]
    inputs, captions, _, index = data.batch([first, second], flipped=[True, False])
    assert torch.equal(inputs[0], mirrored[0].float()) and torch.equal(inputs[1], plain[1].float())

    def sides(rows):
        return {data.vocab.itos[t] for t in rows.flatten().tolist()} & {"left", "right"}

    def side(name):
        return "left" if "on the left" in data.captions[name][0] else "right"

    assert sides(captions[index == 0]) == {"right" if side(first) == "left" else "left"}    # mirrored
    assert sides(captions[index == 1]) == {side(second)}
    vocab = Vocab.build(["the dog on the left looks right"], min_freq=1)
    ids = vocab.encode("the dog on the left looks right")
    assert vocab.decode(swap_left_right(ids, vocab)) == "the dog on the right looks left".split()
    assert train(cfg)["status"] == "finished"


def test_keep_last_runs_a_fixed_schedule_on_train_plus_val(tmp_path, synthetic_captions):
    """keep="last": every epoch runs and the last is kept (no early stopping, val only reported); a val
    split that is also trained on is named in a warning."""
    root, names, _ = synthetic_captions
    cfg = config(tmp_path, synthetic_captions, n_train=6, n_val=0, batch_images=3, epochs=3, patience=1,
                 keep="last", scst_epochs=2, scst_patience=1, lr=3e-2, scst_lr=3e-2)
    Path(cfg.val_split).write_text("\n".join(names[4:6]))
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
    with pytest.raises(ValueError, match="keep must be one of"):
        train(config(tmp_path, synthetic_captions, run="other", keep="newest"))


def test_scst_only_run_starts_from_init_from_and_keeps_it_as_the_bar(tmp_path, synthetic_captions, teacher):
    events = []
    cfg = config(tmp_path, synthetic_captions, init_from=teacher, epochs=0, scst_epochs=1, scst_lr=1e-3,
                 early_stop_metric="bleu4+cider")
    result = train(cfg, on_progress=events.append)
    assert result["status"] == "finished"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]          # the start model is validated first
    assert epochs[0]["best"] == pytest.approx(epochs[0]["val"]["bleu4"] + epochs[0]["val"]["cider"])
    assert any(e["event"] == "step" and e["phase"] == "scst" for e in events)
    assert not any(e["event"] == "step" and e["phase"] == "xe" for e in events)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == ["scst0", "scst1"]
    start, best = load_model(teacher)[1], load_model(result["best_dir"])[1]
    kept_the_start = result["best_epoch"] == "scst0"     # SCST did not beat the start: the start is kept
    assert torch.equal(best.lstm.weight_ih, start.lstm.weight_ih) == kept_the_start


def test_scst_from_init_from_can_fine_tune_the_last_encoder_block(tmp_path, synthetic_captions, teacher):
    root, names, _ = synthetic_captions
    result = train(config(tmp_path, synthetic_captions, init_from=teacher, epochs=0, scst_epochs=1, scst_lr=1e-3,
                          fine_tune_blocks=1, encoder_lr=1e-1))
    assert result["status"] == "finished"
    last = load_model(tmp_path / "run" / "last")
    assert last[3]["encoder"]["fine_tune_blocks"] == 1
    imagenet = Encoder(pretrained=True)
    assert not torch.equal(last[0].features[18][0].weight, imagenet.features[18][0].weight)   # it trained
    assert torch.equal(last[0].features[17].conv[0][0].weight, imagenet.features[17].conv[0][0].weight)
    # The tuned block travels with the model: a captioner built from the directory uses it.
    cap = Captioner.from_dir(tmp_path / "run" / "last", int8=False)
    assert torch.equal(cap.encoder.features[18][0].weight, last[0].features[18][0].weight)
    assert isinstance(cap.caption(root / "Images" / names[0])["caption"], str)
    with pytest.raises(ValueError, match="not fine-tuned"):
        train(config(tmp_path, synthetic_captions, run="from-tuned", init_from=str(tmp_path / "run" / "last"),
                     epochs=0, scst_epochs=1))


def test_a_start_model_of_another_size_is_refused(tmp_path, synthetic_captions, teacher):
    with pytest.raises(ValueError, match="decoder sizes"):
        train(config(tmp_path, synthetic_captions, init_from=teacher, hidden_dim=24))


def test_the_command_writes_nothing_under_models_unless_asked(tmp_path, synthetic_captions, settings):
    """A run goes to its run directory; only --export ships a model (float16) where it says."""
    settings.MODELS_DIR = str(tmp_path / "models")
    settings.VAR_DIR = str(tmp_path / "var")
    (tmp_path / "models").mkdir()
    cfg = config(tmp_path, synthetic_captions, n_train=4, n_val=2)
    options = ["--data-dir", cfg.data_dir, "--train-split", cfg.train_split, "--val-split", cfg.val_split,
               "--cache-root", cfg.cache_root, "--min-freq", "1", "--embed-dim", "16", "--hidden-dim", "16",
               "--attention-dim", "16", "--proj-dim", "16", "--val-beam", "1", "--epochs", "1", "--bf16", "false"]
    call_command("train_captioner", *options)
    assert list((tmp_path / "models").iterdir()) == []
    assert (tmp_path / "var" / "runs" / "caption-flickr8k" / "best" / "weights.safetensors").is_file()
    call_command("train_captioner", *options, "--run-dir", str(tmp_path / "run2"), "--export-dir",
                 str(tmp_path / "models" / "caption-new"))
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["caption-new"]
    assert load_model(tmp_path / "models" / "caption-new")[3]["manifest"]["name"] == "caption-new"
    with pytest.raises(CommandError, match="holds a run already"):
        call_command("train_captioner", *options, "--run-dir", str(tmp_path / "run2"))
