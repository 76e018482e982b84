"""Sequence-level distillation: a teacher captions the training images; a student trains on them too.

Skips when the shared Flickr8k copy is absent (set FLICKR8K_DIR to point at it).
"""
import json

import pytest
import torch

from ml.caption.checkpoint import load_model
from ml.caption.data import DatasetLayoutError
from ml.caption.distill import load_extra_captions, main, teacher_captions
from ml.caption.testing import make_layout, sample_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    try:
        images_dir, names, caps = sample_dataset(8)
    except (FileNotFoundError, DatasetLayoutError):
        pytest.skip("Flickr8k not found: set FLICKR8K_DIR (default <repo>/../shared/data/flickr8k)")
    tmp = tmp_path_factory.mktemp("distill")
    root = make_layout(tmp / "ds", "kaggle", images_dir, names, caps)
    (tmp / "train.txt").write_text("\n".join(names[:6]))
    (tmp / "val.txt").write_text("\n".join(names[6:]))
    return tmp, root, names, caps


def _config(tmp, root, run: str, **kw):
    from ml.caption.train import TrainConfig

    sizes = {"embed_dim": 16, "hidden_dim": 16, "attention_dim": 16, "proj_dim": 16}
    defaults = {"min_freq": 1, "batch_images": 3, "max_epochs": 1, "warmup_steps": 1, "val_beam": 2}
    return TrainConfig(data_dir=str(root), train_split=str(tmp / "train.txt"), val_split=str(tmp / "val.txt"),
                       out_dir=str(tmp / run), cache_root=str(tmp / "cache"), **{**defaults, **sizes, **kw})


@pytest.fixture(scope="module")
def teacher(dataset):
    from ml.caption.train import train

    tmp, root, _, _ = dataset
    return train(_config(tmp, root, "teacher", lr=3e-3))["best_dir"]


def test_teacher_captions_are_its_beam_search_n_best(dataset, teacher):
    from ml.caption.captioner import Captioner

    tmp, root, names, _ = dataset
    out = tmp / "captions.json"
    main(["--teacher", teacher, "--out", str(out), "--data", str(root), "--split", str(tmp / "train.txt"),
          "--beam", "3", "--nbest", "2", "--cache-root", str(tmp / "cache")])
    written = json.loads(out.read_text())
    assert written["beam"] == 3 and written["nbest"] == 2
    captions = load_extra_captions(out)
    assert sorted(captions) == sorted(names[:6]) and all(len(c) == 2 for c in captions.values())
    # The same n-best as captioning the photo itself (features from the cache = features from the file).
    cap = Captioner.from_dir(teacher, int8=False)
    direct = cap.caption(root / "Images" / names[0], beam=3)
    assert captions[names[0]] == [b["caption"] for b in direct["beams"][:2]]


def test_teacher_captions_checks_nbest(teacher):
    _, decoder, vocab, _ = load_model(teacher)
    with pytest.raises(ValueError, match="nbest"):
        teacher_captions(decoder, vocab, torch.zeros(1, 49, 1280), ["x.jpg"], beam=2, nbest=3)


def test_student_trains_on_extra_captions_from_the_teacher_weights(dataset, teacher):
    from ml.caption.train import _Data, _init_decoder, _start_decoder, train
    from ml.caption.decoder import AttentionDecoder

    tmp, root, names, caps = dataset
    extra = tmp / "extra.json"
    borrowed = caps[names[1]][0]        # words the vocabulary has
    extra.write_text(json.dumps({"captions": {names[0]: [borrowed], "not-in-split.jpg": ["x"]}}))
    cfg = _config(tmp, root, "student", extra_captions=str(extra), init_from=teacher)
    _, start, teacher_vocab, _ = load_model(teacher)
    data = _Data(cfg, teacher_vocab)
    assert len(data.encoded[names[0]]) == len(caps[names[0]]) + 1
    assert data.encoded[names[0]][-1] == data.vocab.encode(borrowed, cfg.max_words)
    assert len(data.encoded[names[1]]) == len(caps[names[1]])

    loaded, loaded_vocab = _start_decoder(cfg)
    assert loaded_vocab.itos == teacher_vocab.itos
    student = AttentionDecoder(cfg.decoder_config(len(teacher_vocab)))
    _init_decoder(student, loaded, cfg)
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), start.state_dict().values()))

    result = train(cfg)
    assert result["status"] == "finished"
    trained = load_model(result["best_dir"])[1]
    assert not torch.equal(trained.lstm.weight_ih, start.lstm.weight_ih)   # it trained from there
    assert load_model(result["best_dir"])[2].itos == teacher_vocab.itos


def test_extra_captions_only_replaces_the_human_captions_where_the_teacher_has_some(dataset, teacher):
    from ml.caption.train import _Data

    tmp, root, names, caps = dataset
    extra = tmp / "only.json"
    teacher_caps = [caps[names[1]][0], caps[names[2]][1]]
    extra.write_text(json.dumps({"captions": {names[0]: teacher_caps}}))
    vocab = load_model(teacher)[2]
    data = _Data(_config(tmp, root, "only", extra_captions=str(extra), extra_captions_only=True), vocab)
    assert data.encoded[names[0]] == [vocab.encode(c, 20) for c in teacher_caps]
    assert len(data.encoded[names[1]]) == len(caps[names[1]])   # no teacher caption: the human ones
    with pytest.raises(ValueError, match="needs extra_captions"):
        _Data(_config(tmp, root, "only-none", extra_captions_only=True), vocab)


def test_bad_extra_captions_and_mismatched_start_model_are_refused(dataset, teacher):
    from ml.caption.train import train

    tmp, root, _, _ = dataset
    bad = tmp / "bad.json"
    bad.write_text(json.dumps({"captions": {"a.jpg": "not a list"}}))
    with pytest.raises(ValueError, match="expected"):
        train(_config(tmp, root, "bad-extra", extra_captions=str(bad)))
    with pytest.raises(ValueError, match="decoder sizes"):
        train(_config(tmp, root, "bad-init", init_from=teacher, hidden_dim=24))


def test_scst_only_run_starts_from_init_from_and_keeps_it_as_the_bar(dataset, teacher):
    from ml.caption.train import train

    tmp, root, _, _ = dataset
    events = []
    cfg = _config(tmp, root, "scst-only", init_from=teacher, max_epochs=0, scst_epochs=1, scst_lr=1e-3,
                  scst_bleu_weight=0.5, early_stop_metric="bleu4+cider")
    result = train(cfg, on_progress=events.append)
    assert result["status"] == "finished"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]          # the start model is validated first
    start_score = epochs[0]["val"]["bleu4"] + epochs[0]["val"]["cider"]
    assert epochs[0]["best"] == pytest.approx(start_score)
    assert any(e["event"] == "step" and e.get("phase") == "scst" for e in events)
    assert not any(e["event"] == "step" and e.get("phase") == "xe" for e in events)
    history = [json.loads(line) for line in (tmp / "scst-only" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == ["scst0", "scst1"]
    _, start, _, _ = load_model(teacher)
    best = load_model(result["best_dir"])[1]
    if result["best_epoch"] == "scst0":                    # SCST did not beat the start: the start is kept
        assert torch.equal(best.lstm.weight_ih, start.lstm.weight_ih)
    else:
        assert not torch.equal(best.lstm.weight_ih, start.lstm.weight_ih)


def test_scst_from_init_from_can_fine_tune_the_last_encoder_block(dataset, teacher):
    from ml.caption.captioner import Captioner
    from ml.caption.encoder import Encoder
    from ml.caption.train import train

    tmp, root, names, _ = dataset
    cfg = _config(tmp, root, "scst-ft", init_from=teacher, max_epochs=0, scst_epochs=1, scst_lr=1e-3,
                  fine_tune_blocks=1, encoder_lr=1e-1)
    result = train(cfg)
    assert result["status"] == "finished"
    last = load_model(tmp / "scst-ft" / "last")
    assert last[3]["encoder"]["fine_tune_blocks"] == 1
    imagenet = Encoder(pretrained=True)
    assert not torch.equal(last[0].features[18][0].weight, imagenet.features[18][0].weight)   # it trained
    assert torch.equal(last[0].features[17].conv[0][0].weight, imagenet.features[17].conv[0][0].weight)
    # The tuned block travels with the model: a captioner built from the directory uses it.
    cap = Captioner.from_dir(tmp / "scst-ft" / "last", int8=False)
    assert torch.equal(cap.encoder.features[18][0].weight, last[0].features[18][0].weight)
    assert isinstance(cap.caption(root / "Images" / names[0])["caption"], str)


def test_init_from_a_model_with_a_tuned_encoder_is_refused(dataset, teacher):
    from ml.caption.train import train

    tmp, root, _, _ = dataset
    tuned = train(_config(tmp, root, "tuned", init_from=teacher, max_epochs=0, scst_epochs=1,
                          fine_tune_blocks=1))
    with pytest.raises(ValueError, match="not fine-tuned"):
        train(_config(tmp, root, "from-tuned", init_from=str(tmp / "tuned" / "last"), max_epochs=0,
                      scst_epochs=1))
    assert tuned["status"] == "finished"
