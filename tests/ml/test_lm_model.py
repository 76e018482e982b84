"""RNNModel: options, shapes, every cell learns, inspector matches the fused kernels."""
import pytest
import torch

from ml.lm.inspect import step_through
from ml.lm.model import CELLS, RNNModel, repackage_hidden
from ml.lm.train import LMConfig, train
from tests.support.lm import tiny_corpus


@pytest.mark.parametrize("kwargs", [dict(cell="lstmx"), dict(init="he"), dict(dropout_emb=1.0),
                                    dict(nlayers=0), dict(ntoken=1)])
def test_bad_options_raise(kwargs):
    args = dict(ntoken=50, cell="lstm", emsize=8, nhid=8, nlayers=1) | kwargs
    with pytest.raises(ValueError):
        RNNModel(**args)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tie", [True, False])
def test_shapes(cell, tie):
    m = RNNModel(30, cell, emsize=6, nhid=10, nlayers=2, tie_weights=tie)
    x = torch.randint(0, 30, (7, 3))
    logp, h = m(x, m.init_hidden(3))
    assert logp.shape == (7, 3, 30)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(7, 3), atol=1e-5)
    assert len(h) == 2
    if tie:
        assert m.decoder.weight is m.encoder.weight


@pytest.mark.parametrize("init", ["xavier", "orthogonal", "default"])
def test_inits(init):
    m = RNNModel(20, "gru", 8, 8, 1, init=init)
    assert all(torch.isfinite(p).all() for p in m.parameters())


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_learns(cell, tmp_path):
    corpus = tiny_corpus()
    cfg = LMConfig(corpus="tiny", cell=cell, emsize=24, nhid=24, nlayers=2, batch_size=8, bptt=10, epochs=4,
                   dropout_emb=0.0, dropout_hid=0.0, dropout_out=0.0, lr=2e-2, warmup_steps=0, ema=0.0,
                   log_every=5, threads=1, run_dir=str(tmp_path / cell))
    steps = []
    res = train(cfg, on_progress=lambda d: steps.append(d) if d["event"] == "step" else None, corpus=corpus)
    losses = [d["loss"] for d in steps]
    assert res["status"] == "finished"
    assert losses[-1] < losses[0] * 0.75, losses
    assert res["best_valid_ppl"] < 10  # vocab is 22 words; uniform would be ~22


@pytest.mark.parametrize("cell", CELLS)
def test_inspector_matches_fused(cell):
    torch.manual_seed(0)
    m = RNNModel(25, cell, emsize=6, nhid=9, nlayers=2).eval()
    ids = torch.randint(0, 25, (11,))
    r = step_through(m, ids)
    logp, _ = m(ids.unsqueeze(1), m.init_hidden(1))
    assert torch.allclose(torch.log_softmax(r["logits"], -1), logp[:, 0], atol=1e-5)
    expected = {"lstm": {"input", "forget", "output", "candidate"}, "gru": {"reset", "update"}}.get(cell, set())
    assert set(r["gates"]) == expected
    for v in r["gates"].values():
        assert v[0].shape == (11, 9)


def test_repackage_hidden_detaches():
    m = RNNModel(10, "lstm", 4, 4, 2)
    _, h = m(torch.randint(0, 10, (3, 2)), m.init_hidden(2))
    assert h[0][0].requires_grad
    h2 = repackage_hidden(h)
    assert not any(t.requires_grad for layer in h2 for t in layer)
    assert torch.equal(h2[0][0], h[0][0])


@pytest.mark.parametrize("cell", CELLS)
def test_weight_drop_trains_and_is_off_in_eval(cell):
    torch.manual_seed(0)
    m = RNNModel(20, cell, 8, 8, 2, dropout_emb=0, dropout_hid=0, dropout_out=0, dropout_weight=0.5)
    x = torch.randint(0, 20, (5, 3))
    m.train()
    a, _ = m(x, m.init_hidden(3))
    b, _ = m(x, m.init_hidden(3))
    assert not torch.allclose(a, b)  # a fresh DropConnect mask per forward
    a.sum().backward()
    assert m.rnns[0].weight_hh_l0.grad is not None and torch.isfinite(m.rnns[0].weight_hh_l0.grad).all()
    m.eval()
    c, _ = m(x, m.init_hidden(3))
    d, _ = m(x, m.init_hidden(3))
    assert torch.equal(c, d)
    assert m.config()["dropout_weight"] == 0.5
