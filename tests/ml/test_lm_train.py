"""Training loop: TBPTT carries and detaches state, clipping bounds the norm, cancel/resume, checkpoints."""
import json
import math

import pytest
import torch

from ml.lm import checkpoint as ckpt
from ml.lm.model import RNNModel
from tests.support.lm import tiny_corpus
from ml.lm.train import LMConfig, train, train_loss

TINY = dict(corpus="tiny", emsize=16, nhid=16, nlayers=1, batch_size=4, bptt=8, epochs=1, warmup_steps=0,
            log_every=1, threads=1, ema=0.0)


def tiny(run_dir, **changes) -> LMConfig:
    return LMConfig(**TINY | {"run_dir": str(run_dir)} | changes)


def test_tbptt_carries_and_detaches_state(tmp_path, monkeypatch):
    """The hidden state entering window k+1 equals the one leaving window k, and has no graph."""
    seen = []
    orig = RNNModel.features

    def spy(self, x, hidden, weight=None):
        if self.training:
            seen.append(([t.clone() for t in hidden[0]], hidden[0][0].requires_grad, hidden[0][0].grad_fn))
        out, new = orig(self, x, hidden, weight)
        if self.training:
            seen[-1] += ([t.detach().clone() for t in new[0]],)
        return out, new

    monkeypatch.setattr(RNNModel, "features", spy)
    train(tiny(tmp_path), corpus=tiny_corpus())
    assert len(seen) > 3
    assert torch.count_nonzero(seen[0][0][0]) == 0  # first window starts from zeros
    for prev, cur in zip(seen, seen[1:]):
        h_in, requires_grad, grad_fn, _ = cur
        assert not requires_grad and grad_fn is None  # detached: backprop stops at the window edge
        assert torch.allclose(h_in[0], prev[3][0])  # ... but the values are carried over


def test_clipping_bounds_the_norm(tmp_path):
    torch.manual_seed(0)
    m = RNNModel(30, "rnn_relu", 16, 16, 1, init="default")
    x, y = torch.randint(0, 30, (8, 4)), torch.randint(0, 30, (8, 4))
    loss, _ = train_loss(m, x, y, m.init_hidden(4), LMConfig())
    (loss * 1e4).backward()
    before = torch.nn.utils.clip_grad_norm_(m.parameters(), 0.1)
    after = torch.norm(torch.stack([p.grad.norm() for p in m.parameters() if p.grad is not None]))
    assert before > 0.1
    assert after <= 0.1 + 1e-5


def test_progress_keys_cancel_and_resume(tmp_path):
    corpus = tiny_corpus()
    events, calls = [], {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] >= 5

    cfg = tiny(tmp_path, epochs=2)
    res = train(cfg, on_progress=events.append, should_stop=should_stop, corpus=corpus)
    assert res["status"] == "cancelled" and res["step"] == 5
    step = next(e for e in events if e["event"] == "step")
    for key in ("epoch", "step", "total_steps", "loss", "ppl", "tokens_per_s", "grad_norm", "lr"):
        assert key in step
    assert (tmp_path / "last" / "state.json").is_file()
    events.clear()
    with pytest.raises(ValueError, match="holds a run already"):
        train(cfg, corpus=corpus)
    res = train(tiny(tmp_path, epochs=2, resume=True), on_progress=events.append, corpus=corpus)
    assert res["status"] == "finished"
    assert events[0]["event"] == "resumed" and events[0]["step"] == 5
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(math.isfinite(e["valid_ppl"]) for e in epochs)
    assert (tmp_path / "best" / "weights.safetensors").is_file()


def test_resume_is_exact(tmp_path):
    """Stop after 7 steps and resume == one uninterrupted run (same seed, same data order, same RNG)."""
    corpus = tiny_corpus()
    full = train(tiny(tmp_path / "a", ema=0.9, dropout_emb=0.2), corpus=corpus)
    n = {"i": 0}
    train(tiny(tmp_path / "b", ema=0.9, dropout_emb=0.2), corpus=corpus,
          should_stop=lambda: (n.__setitem__("i", n["i"] + 1) or n["i"] >= 7))
    resumed = train(tiny(tmp_path / "b", ema=0.9, dropout_emb=0.2, resume=True), corpus=corpus)
    assert resumed["best_valid_ppl"] == pytest.approx(full["best_valid_ppl"], rel=1e-5)


def test_bad_config():
    with pytest.raises(ValueError):
        LMConfig(cell="lstm2", run_dir="x").validate()
    with pytest.raises(ValueError):
        LMConfig(schedule="linear", run_dir="x").validate()
    with pytest.raises(ValueError, match="run_dir"):
        LMConfig().validate()
    with pytest.raises(ValueError, match="unknown setting"):
        LMConfig.from_dict({"max_minutes": 3})


def test_checkpoint_round_trip_exact(tmp_path):
    torch.manual_seed(0)
    corpus = tiny_corpus()
    m = RNNModel(len(corpus.vocab), "lstm", 8, 12, 2, tie_weights=True).eval()
    ckpt.save_model_dir(tmp_path / "m", m, corpus.vocab, {"slot": "tiny", "label": "Tiny"}, {"valid_ppl": 1.0})
    m2, v2, cfg = ckpt.load_model_dir(tmp_path / "m")
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    assert m2.decoder.weight is m2.encoder.weight
    assert v2.itos == corpus.vocab.itos and cfg["kind"] == "lm" and cfg["slot"] == "tiny"
    manifest = json.loads((tmp_path / "m" / "unroll.json").read_text())
    assert manifest["kind"] == "lm" and manifest["label"] == "Tiny"
    # float16 export: storage halves, values equal to fp16 rounding
    ckpt.export_model_dir(tmp_path / "m", tmp_path / "h", slot="x")
    m3, _, cfg3 = ckpt.load_model_dir(tmp_path / "h")
    assert cfg3["slot"] == "x"
    for (k, a), (_, b) in zip(m.state_dict().items(), m3.state_dict().items()):
        assert torch.equal(a.half().float(), b), k


def test_load_rejects_non_model_dir(tmp_path):
    with pytest.raises(FileNotFoundError):
        ckpt.load_model_dir(tmp_path)


def test_budget_stop_validates_and_keeps_best(tmp_path):
    res = train(tiny(tmp_path, time_budget_min=1e-9), corpus=tiny_corpus())
    assert res["status"] == "time_budget" and res["step"] == 1
    assert res["best_valid_ppl"] is not None and (tmp_path / "best" / "config.json").is_file()
    assert (tmp_path / "last" / "state.json").is_file()


def test_init_from_model_dir(tmp_path):
    corpus = tiny_corpus()
    first = train(tiny(tmp_path / "a", epochs=3, lr=2e-2), corpus=corpus)
    events = []
    train(tiny(tmp_path / "b", init_from=first["best_dir"], lr=1e-6), corpus=corpus, on_progress=events.append)
    first_loss = next(e for e in events if e["event"] == "step")["loss"]
    assert first_loss < math.log(len(corpus.vocab)) - 0.5
    with pytest.raises(ValueError):
        train(tiny(tmp_path / "c", init_from=first["best_dir"], nhid=8), corpus=corpus)


def test_find_model_dirs(tmp_path):
    corpus = tiny_corpus()
    m = RNNModel(len(corpus.vocab), "gru", 8, 8, 1)
    ckpt.save_model_dir(tmp_path / "lm-a", m, corpus.vocab, {"slot": "a", "label": "A"}, {})
    (tmp_path / "other").mkdir()
    found = ckpt.find_model_dirs(tmp_path)
    assert [f["slot"] for f in found] == ["a"] and found[0]["cell"] == "gru"


def test_resume_with_new_lr_anneals(tmp_path):
    corpus = tiny_corpus()
    train(tiny(tmp_path), corpus=corpus)
    events = []
    res = train(tiny(tmp_path, epochs=2, lr=1e-4, resume=True), corpus=corpus, on_progress=events.append)
    assert res["status"] == "finished"
    assert {e["lr"] for e in events if e["event"] == "step"} == {1e-4}


def test_best_metrics_history_includes_its_own_epoch(tmp_path):
    train(tiny(tmp_path, epochs=2), corpus=tiny_corpus())
    m = json.loads((tmp_path / "best" / "metrics.json").read_text())
    assert m["history"][-1]["epoch"] == m["epoch"] and m["history"][-1]["valid_ppl"] == round(m["valid_ppl"], 3)
    assert m["commands"] == [""] or m["commands"] == []


def test_mid_epoch_validation_and_target_stop(tmp_path):
    """validate_every adds partial-epoch validations; target_ppl stops at the first one that reaches it."""
    corpus = tiny_corpus()
    events = []
    full = train(tiny(tmp_path / "full", epochs=3, lr=2e-2, validate_every=3, validate_from=3), corpus=corpus,
                 on_progress=events.append)
    partial = [h for h in full["history"] if h.get("partial_epoch")]
    assert partial and all(h["step"] % 3 == 0 and h["step"] >= 3 for h in partial)
    assert [e for e in events if e["event"] == "epoch" and e.get("partial")]
    assert full["valid_wall_s"] > 0
    # A target between the first validation and the best one is reached part-way, and the run says so.
    ppls = [h["valid_ppl"] for h in full["history"]]
    target = (ppls[0] + min(ppls)) / 2
    stopped = train(tiny(tmp_path / "target", epochs=3, lr=2e-2, validate_every=3, validate_from=3, target_ppl=target),
                    corpus=corpus)
    assert stopped["status"] == "target_reached"
    assert stopped["best_valid_ppl"] <= target
    assert stopped["step"] < full["step"]
    assert all(h["valid_ppl"] > target for h in stopped["history"][:-1])
    assert (tmp_path / "target" / "best" / "config.json").is_file()


def test_bad_validation_options():
    for bad in ({"validate_every": -1}, {"target_ppl": -2.0}):
        with pytest.raises(ValueError):
            tiny("x", **bad).validate()


def test_warm_start_average_starts_from_the_loaded_weights():
    """From random init the average warms up (tracks the live weights); from a warm start it keeps full decay."""
    from ml.lm.train import EMA
    torch.manual_seed(0)
    m = RNNModel(20, "gru", 8, 8, 1)
    start = {k: v.clone() for k, v in m.state_dict().items()}
    cold, warm = EMA(m, 0.99), EMA(m, 0.99, warmup=False)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    cold.update(m)
    warm.update(m)
    k = "encoder.weight"
    assert torch.allclose(warm.shadow[k], start[k] + 0.01, atol=1e-6)
    assert torch.allclose(cold.shadow[k], start[k] + 1 - 2 / 11, atol=1e-6)  # d = 2/11 on the first update
