"""Weight averaging of LM model directories."""
import pytest
import torch

from ml.lm import checkpoint as ckpt
from ml.lm.average import average_model_dirs, main
from ml.lm.model import RNNModel
from ml.lm.testing import tiny_corpus


def _save(path, seed, nhid=8):
    torch.manual_seed(seed)
    corpus = tiny_corpus()
    model = RNNModel(len(corpus.vocab), "lstm", 8, nhid, 1, tie_weights=nhid == 8)
    ckpt.save_model_dir(path, model, corpus.vocab, {"slot": "a", "label": "A", "corpus": "tiny"}, {})
    return model


def test_weighted_mean_of_parameters(tmp_path):
    a, b = _save(tmp_path / "a", 0), _save(tmp_path / "b", 1)
    mean, _, _ = average_model_dirs([tmp_path / "a", tmp_path / "b"], [3, 1])
    for k, v in mean.state_dict().items():
        assert torch.allclose(v, 0.75 * a.state_dict()[k] + 0.25 * b.state_dict()[k], atol=1e-6), k
    same, _, _ = average_model_dirs([tmp_path / "a", tmp_path / "a"])
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in same.state_dict().items())


def test_cli_writes_a_loadable_model_dir(tmp_path):
    _save(tmp_path / "a", 0), _save(tmp_path / "b", 1)
    main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "soup")])
    model, vocab, config = ckpt.load_model_dir(tmp_path / "soup")
    assert config["slot"] == "a" and len(vocab) == model.ntoken
    assert ckpt.read_json(tmp_path / "soup" / "metrics.json")["averaged_from"][0].endswith("a")


def test_refuses_mismatched_or_bad_input(tmp_path):
    _save(tmp_path / "a", 0), _save(tmp_path / "wide", 0, nhid=12)
    with pytest.raises(ValueError, match="differs"):
        average_model_dirs([tmp_path / "a", tmp_path / "wide"])
    with pytest.raises(ValueError):
        average_model_dirs([tmp_path / "a"])
    with pytest.raises(ValueError):
        average_model_dirs([tmp_path / "a", tmp_path / "a"], [1.0, -1.0])
