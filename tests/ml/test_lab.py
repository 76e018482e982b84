"""Gradient lab (ml/lab): the task, the config's validation, gradient measurement and the presets' stories."""
import json
import math

import pytest
import torch

from ml.lab.experiment import PRESETS, ExperimentConfig, ExperimentStopped, RecallNet, run_experiment
from ml.lab.task import RecallTask
from ml.lab.experiment import LEAD, gradient_by_distance


@pytest.fixture(autouse=True)
def one_thread():
    """Like the experiments themselves: tiny ops on a shared machine are fastest on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_task_puts_the_symbol_after_the_lead_in_and_the_query_last():
    task = RecallTask(7, symbols=4, distractors=3, lead=2)
    x, y = task.batch(16, torch.Generator().manual_seed(0))
    assert x.shape == (2 + 7 + 1, 16) and y.shape == (16,)
    assert torch.equal(x[2], y) and (y < 4).all()
    assert (x[-1] == task.query_token).all()
    noise = torch.cat([x[:2], x[3:-1]])
    assert ((noise >= 4) & (noise < 7)).all()
    again, _ = task.batch(16, torch.Generator().manual_seed(0))
    assert torch.equal(x, again)


@pytest.mark.parametrize("changes, message", [
    ({"cells": ["lstm", "transformer"]}, "Unknown cell 'transformer'"),
    ({"cells": []}, "at least one cell"),
    ({"cells": "lstm"}, "must be a list"),
    ({"distance": 1}, "distance must be a whole number from 2 to 200"),
    ({"distance": 50.5}, "distance must be a whole number"),
    ({"steps": 401}, "steps must be"),
    ({"hidden": True}, "hidden must be"),
    ({"init": "zeros"}, "init must be one of xavier, naive"),
    ({"clip": "yes"}, "clip must be true or false"),
    ({"max_norm": 0}, "max_norm must be a number"),
    ({"tbptt": 50}, "must be shorter than the distance"),
    ({"colour": "red"}, "Unknown setting 'colour'"),
    ({"cells": ["rnn_tanh", "rnn_relu", "lstm", "gru"], "distance": 200, "steps": 400}, "more than the 20 s"),
])
def test_config_rejects_bad_settings_in_plain_words(changes, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict({"cells": ["lstm"], "distance": 50, **changes})


def test_config_orders_cells_and_lists_twins():
    cfg = ExperimentConfig.from_dict({"cells": ["lstm", "rnn_tanh", "lstm"], "distance": 40, "steps": 50,
                                      "clip": True, "tbptt": 5})
    assert cfg.cells == ("rnn_tanh", "lstm")
    assert [v["variant"] for v in cfg.variants()] == ["main", "unclipped", "full"]
    assert cfg.sweep_distances() == [5, 10, 20, 40]
    assert cfg.as_dict()["lr"] == 0.005


def test_every_preset_is_valid_and_within_budget():
    for preset in PRESETS.values():
        assert ExperimentConfig.from_dict(preset["config"]).estimated_seconds() <= 20


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_unrolled_loop_computes_the_same_logits_as_the_fused_forward(cell):
    torch.manual_seed(0)
    task = RecallTask(12, lead=LEAD)
    model = RecallNet(cell, task.vocab_size, 4, 16)
    x, _ = task.batch(5, torch.Generator().manual_seed(1))
    fused = model(x)
    stepped, states = model.unrolled(x)
    assert len(states) == task.length
    torch.testing.assert_close(fused, stepped, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model(x, tbptt=4), model.unrolled(x, tbptt=4)[0], rtol=1e-5, atol=1e-5)


def test_truncated_bptt_stops_the_gradient_exactly_k_steps_before_the_loss():
    assert RecallNet.chunk_starts(25, 5) == [0, 4, 9, 14, 19]
    assert RecallNet.chunk_starts(25, None) == [0]
    torch.manual_seed(0)
    task = RecallTask(20, lead=LEAD)
    model = RecallNet("lstm", task.vocab_size, 4, 16)
    x, y = task.batch(8, torch.Generator().manual_seed(1))
    norms = gradient_by_distance(model, x, y, tbptt=5)
    assert all(v is not None and v > 0 for v in norms[:6])
    assert all(v is None for v in norms[6:])
    full = gradient_by_distance(model, x, y, tbptt=None)
    assert all(v is not None and v > 0 for v in full)


def ratio(norms, far=50, near=1):
    return norms[far] / norms[near]


def test_fixed_seed_rnn_gradient_vanishes_over_50_steps_and_lstm_keeps_it_at_initialisation():
    """Done-when of issue #8, before any training: the same data, seed 0, Xavier init, H = 64."""
    task = RecallTask(50, lead=LEAD)
    x, y = task.batch(64, torch.Generator().manual_seed(3))
    ratios = {}
    for cell in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
        torch.manual_seed(0)
        model = RecallNet(cell, task.vocab_size, 4, 64, "xavier")
        ratios[cell] = ratio(gradient_by_distance(model, x, y, None))
    assert ratios["rnn_tanh"] <= 1e-2, ratios  # at least 100x smaller at distance 50 than at distance 1
    assert ratios["rnn_relu"] <= 1e-2, ratios
    assert ratios["lstm"] >= 0.1, ratios  # the LSTM loses less than 10x over the same 50 steps
    assert ratios["lstm"] >= 1e3 * ratios["rnn_tanh"], ratios


def test_vanishing_preset_fixed_seed_rnn_fails_lstm_learns_and_keeps_its_gradient():
    """Done-when of issue #8, after training: the page's 'vanishing' preset (sweep off to keep the test short)."""
    cfg = ExperimentConfig.from_dict({**PRESETS["vanishing"]["config"], "sweep": False, "seed": 0})
    result = run_experiment(cfg)
    json.dumps(result, allow_nan=False)  # strict JSON: the browser must be able to parse it
    runs = {r["cell"]: r for r in result["runs"]}
    rnn, lstm = runs["rnn_tanh"], runs["lstm"]
    assert len(rnn["grad_by_distance"]) == 50 + LEAD + 1
    for run in (rnn, lstm):
        assert run["grad_ratio"]["far"] == 50
        assert run["grad_ratio"]["trained"] == pytest.approx(ratio(run["grad_by_distance"]), rel=1e-3)
    assert rnn["grad_ratio"]["trained"] <= 1e-2 and rnn["grad_ratio"]["init"] <= 1e-2
    assert lstm["grad_ratio"]["trained"] >= 1e-2 and lstm["grad_ratio"]["init"] >= 0.1
    assert lstm["grad_ratio"]["trained"] >= 1e3 * rnn["grad_ratio"]["trained"]
    assert rnn["final_accuracy"] <= 0.4 < 0.9 <= lstm["final_accuracy"]
    assert len(rnn["loss"]) == len(rnn["grad_norm"]) == cfg.steps
    assert rnn["acc_steps"][0] == 0 and rnn["acc_steps"][-1] == cfg.steps


def test_exploding_preset_unclipped_run_diverges_and_its_clipped_twin_survives():
    result = run_experiment(ExperimentConfig.from_dict({**PRESETS["exploding"]["config"], "sweep": False}))
    json.dumps(result, allow_nan=False)
    clipped, unclipped = result["runs"]
    assert (clipped["clip"], unclipped["clip"]) == (True, False)
    assert unclipped["diverged_at"] is not None and unclipped["final_accuracy"] is None
    assert clipped["diverged_at"] is None and all(v is not None for v in clipped["loss"])
    assert clipped["grad_ratio"]["init"] > 100  # naive init: the gradient grows going back in time
    assert max(clipped["grad_norm"]) > 1e3 * result["config"]["max_norm"]  # it exploded; clipping kept it alive


def test_progress_is_reported_and_should_stop_cancels():
    cfg = ExperimentConfig.from_dict({"cells": ["rnn_tanh"], "distance": 10, "steps": 40, "sweep": False})
    reports = []
    torch.set_num_threads(2)
    result = run_experiment(cfg, on_progress=reports.append)
    assert torch.get_num_threads() == 2  # it runs on one thread and gives the worker its setting back
    assert reports and reports[-1]["fraction"] == 1.0 and reports[-1]["run"] == "done"
    assert result["runs"][0]["steps_run"] == 40 and not result["time_limited"]
    with pytest.raises(ExperimentStopped):
        run_experiment(cfg, should_stop=lambda: True)


def test_time_limit_stops_training_early_and_says_so():
    cfg = ExperimentConfig(cells=("rnn_tanh",), distance=10, steps=400, sweep=True, time_limit=1.0)
    result = run_experiment(cfg)
    assert result["time_limited"] is True
    assert result["runs"][0]["steps_run"] < 400
    assert result["sweep"]["accuracy"]["rnn_tanh"][:-1] == [None] * (len(result["sweep"]["distances"]) - 1)
    assert all(math.isfinite(v) for v in result["runs"][0]["loss"])
