"""NextWordPredictor on a tiny trained model: suggestions, sampling, inspector, edge cases, probes."""
import json
import math

import pytest

from ml.lm.predictor import NextWordPredictor
from ml.lm.probes import load_probes, score
from ml.lm.train import LMConfig, train
from tests.support.lm import tiny_corpus


@pytest.fixture(scope="module", params=["lstm", "gru", "rnn_tanh"])
def predictor(request, tmp_path_factory):
    run = tmp_path_factory.mktemp(f"run-{request.param}")
    cfg = LMConfig(corpus="tiny", cell=request.param, emsize=24, nhid=24, nlayers=2, batch_size=8, bptt=10,
                   epochs=4, lr=2e-2, warmup_steps=0, ema=0.0, dropout_emb=0, dropout_hid=0, dropout_out=0,
                   threads=1, slot="tiny", label="Tiny", run_dir=str(run))
    res = train(cfg, corpus=tiny_corpus())
    return NextWordPredictor.from_dir(res["best_dir"])


def test_suggest_learns_the_grammar(predictor):
    out = predictor.suggest("the cat sat on", k=3)
    assert len(out) == 3 and set(out[0]) == {"word", "prob"}
    assert out[0]["word"] in {"the", "a", "some"}
    assert all(0 < s["prob"] <= 1 for s in out)
    assert out == sorted(out, key=lambda s: -s["prob"])


def test_suggest_hides_specials_unless_asked(predictor):
    words = [s["word"] for s in predictor.suggest("the cat sat on the mat", k=len(predictor.vocab) - 2)]
    assert "<unk>" not in words and "<eos>" not in words
    top = predictor.suggest("the cat sat on the mat", k=1, include_special=True)
    assert top[0]["word"] == "<eos>"  # every training sentence ends after its object


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "?!...", None, 42])
def test_empty_or_bad_prompt_is_a_value_error(predictor, bad):
    with pytest.raises(ValueError):
        predictor.suggest(bad)


@pytest.mark.parametrize("kwargs", [dict(k=0), dict(k=10**6), dict(k="5"), dict(k=1.5)])
def test_bad_k(predictor, kwargs):
    with pytest.raises(ValueError):
        predictor.suggest("the cat", **kwargs)


def test_unknown_unicode_control_and_huge_prompts(predictor):
    assert len(predictor.suggest("zzq \u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \U0001f600 xyzzy")) == 5
    assert len(predictor.suggest("the cat\x00\x1b[31m sat\u200b on")) == 5
    huge = ("the dog liked a house " * 2000)[:10000]
    assert len(huge) == 10000
    assert predictor.tokens(huge)[-1] == "house" or len(predictor.tokens(huge)) == predictor.max_context
    assert len(predictor.suggest(huge)) == 5
    assert len(predictor.inspect(huge)["tokens"]) == predictor.max_inspect_tokens


def test_sample_is_seeded_and_validated(predictor):
    a = predictor.sample("the cat", n_words=12, seed=3)
    b = predictor.sample("the cat", n_words=12, seed=3)
    assert a == b and len(a) == 12 and "<unk>" not in a
    assert predictor.sample("the cat", n_words=5, temperature=0.01, top_k=1, seed=0)[0] in {"sat", "looked", "bought",
                                                                                            "sold", "liked"}
    for kwargs in (dict(n_words=0), dict(temperature=0), dict(temperature=float("nan")), dict(top_k=-1)):
        with pytest.raises(ValueError):
            predictor.sample("the cat", **kwargs)


def test_inspect_shapes(predictor):
    r = predictor.inspect("the cat sat on the mat")
    T, L = len(r["tokens"]), r["layers"]
    assert r["tokens"] == ["the", "cat", "sat", "on", "the", "mat"]
    assert len(r["hidden_norm"]) == T and all(len(row) == L for row in r["hidden_norm"])
    expected = {"lstm": {"forget", "input", "output"}, "gru": {"reset", "update"}}.get(r["cell"], set())
    assert set(r["gates"]) == expected
    for rows in r["gates"].values():
        assert len(rows) == T and all(0 <= v <= 1 for row in rows for v in row)
    assert len(r["token_prob"]) == T and all(0 < p <= 1 for p in r["token_prob"])
    assert len(r["next"]) == 5
    if r["cell"] == "lstm":
        assert len(r["cell_norm"]) == T


def test_probe_scoring(predictor):
    probes = [{"id": "x", "prompt": "the cat sat on the mat and the dog looked at", "cue": "cat",
               "answer": "the", "contrast": "the dog sat on the mat and the dog looked at"},
              {"id": "oov", "prompt": "the cat", "cue": "cat", "answer": "zebra"}]
    r = score(predictor, probes)
    assert r["summary"]["n"] == 1 and r["summary"]["skipped"] == 1
    row = r["probes"][0]
    assert row["rank"] >= 1 and 0 < row["prob"] <= 1 and math.isfinite(row["lift"])
    assert row["distance"] >= 10
    summary = r["summary"]
    assert summary["top1"] <= summary["top5"] <= summary["top10"] and summary["mean_rank"] == row["rank"]
    assert summary["mean_lift_nats"] == row["lift"]


def test_probes_command_reports_hit_rates_per_model_as_json(predictor, tmp_path, monkeypatch, capsys):
    from ml.lm import checkpoint as ckpt
    from ml.lm.probes import main
    model_dir = ckpt.save_model_dir(tmp_path / "tiny-model", predictor.model, predictor.vocab, {"corpus": "tiny"}, {})
    probes = tmp_path / "probes.json"
    probes.write_text(json.dumps({"probes": [
        {"id": "a", "prompt": "the cat sat on the mat and the dog looked at", "cue": "cat", "answer": "the",
         "contrast": "the dog sat on the mat and the dog looked at"},
        {"id": "b", "prompt": "my friend liked the red car and a dog sold", "cue": "friend", "answer": "some",
         "contrast": "the market liked the red car and a dog sold"}]}))
    monkeypatch.setattr("sys.argv", ["probes", str(model_dir), "--probes", str(probes), "--json"])
    main()
    out = json.loads(capsys.readouterr().out)
    summary = out[str(model_dir)]["summary"]
    assert summary["n"] == 2 and {"top1", "top5", "top10", "mean_rank", "mean_lift_nats"} <= set(summary)
    assert [row["id"] for row in out[str(model_dir)]["probes"]] == ["a", "b"]


def test_shipped_probe_files_are_long_range():
    from ml.lm.probes import cue_distance
    for corpus in ("ptb", "shakespeare", "wiki"):
        probes = load_probes(corpus)
        assert len(probes) >= 8
        assert all(cue_distance(p) >= 10 for p in probes)


def test_int8_copy_serves_suggestions_and_agrees_with_float32(predictor, tmp_path):
    """Suggestions run on an int8 copy (4x less memory traffic per token); it must rank like the float32 model."""
    exact = NextWordPredictor(predictor.model, predictor.vocab, int8=False)
    assert predictor.fast_model is not predictor.model
    for prompt in ["the cat sat on", "a dog saw the", "some bird"]:
        fast, slow = predictor.suggest(prompt, k=3), exact.suggest(prompt, k=3)
        assert fast[0]["word"] == slow[0]["word"]
        assert abs(fast[0]["prob"] - slow[0]["prob"]) < 0.05
    # The inspector reads gates off the float32 weights, whatever serves suggestions.
    assert predictor.inspect("the cat")["tokens"] == exact.inspect("the cat")["tokens"]


def test_target_rank_matches_the_suggestions(predictor):
    top = predictor.suggest("the cat sat on", k=3)
    for rank, suggestion in enumerate(top, start=1):
        found = predictor.target_rank("the cat sat on", suggestion["word"].upper())
        assert found["word"] == suggestion["word"] and found["rank"] == rank
        assert abs(found["prob"] - suggestion["prob"]) < 1e-6


def test_suggest_with_target_is_suggest_and_target_rank_in_one_pass(predictor):
    words, target = predictor.suggest_with_target("the cat sat on", 4, "mat")
    assert words == predictor.suggest("the cat sat on", k=4)
    assert target == predictor.target_rank("the cat sat on", "mat")


def test_target_rank_of_a_word_the_model_cannot_say(predictor):
    for word in ("nepali", "<eos>", "<unk>", "two words"):
        found = predictor.target_rank("i can speak", word)
        assert found["rank"] is None and found["prob"] is None and "vocabulary" in found["note"]


def test_number_placeholder_in_a_prompt_reads_as_the_number_token(predictor):
    assert predictor.tokens("the cat [number] sat") == predictor.tokens("the cat N sat")
    assert predictor.inspect("the cat")["labels"] == ["the", "cat"]


def test_many_prompts_in_one_pass_match_each_prompt_alone(predictor):
    """The batched pass pads after each prompt's end; read at its own last token, every row is that prompt's
    distribution. Exact on the float model; the int8 copy scales activations per batch, so there a probability
    may move a little, never the top word of a clear winner."""
    prompts = ["the cat sat on", "a dog", "the cat sat on the mat and the dog ran to", "some", "!!! ???"]
    exact = NextWordPredictor(predictor.model, predictor.vocab, int8=False)
    answers = exact.suggest_many([{"text": p, "k": 4} for p in prompts])
    for prompt, answer in zip(prompts[:-1], answers):
        words, target = answer
        alone = exact.suggest(prompt, k=4)
        assert [w["word"] for w in words] == [w["word"] for w in alone] and target is None
        assert [w["prob"] for w in words] == pytest.approx([w["prob"] for w in alone], rel=1e-4)
    assert isinstance(answers[-1], ValueError) and "punctuation" in str(answers[-1])

    fast = predictor.suggest_many([{"text": p, "k": 1} for p in prompts[:-1]])
    for prompt, (words, _) in zip(prompts, fast):
        alone = predictor.suggest(prompt, k=2)
        if alone[0]["prob"] > 1.5 * alone[1]["prob"]:
            assert words[0]["word"] == alone[0]["word"]
        assert words[0]["prob"] == pytest.approx(alone[0]["prob"], rel=0.1, abs=0.02)


def test_a_bad_k_or_target_fails_only_its_request(predictor):
    answers = predictor.suggest_many([{"text": "the cat", "k": 0}, {"text": "the cat", "k": 2, "target": " "},
                                      {"text": "the cat", "k": 2, "target": "mat"}])
    assert isinstance(answers[0], ValueError) and isinstance(answers[1], ValueError)
    words, target = answers[2]
    assert len(words) == 2 and target["word"] == "mat" and target["rank"] >= 1
