"""Character n-gram embeddings (ml.lm.subwords): shared parts, training, and folding into a plain word model."""
import math

import pytest
import torch
from safetensors.torch import load_file

from ml.lm import checkpoint as ckpt
from ml.lm.model import RNNModel
from ml.lm.subwords import char_ngrams, ngram_table
from ml.lm.train import LMConfig, lr_at, train
from tests.support.lm import tiny_corpus

TINY = dict(corpus="tiny", emsize=16, nhid=16, nlayers=1, batch_size=4, bptt=8, epochs=1, warmup_steps=0,
            log_every=1, threads=1, ema=0.0, subwords=True)


def test_char_ngrams_mark_word_edges_and_skip_non_words():
    assert char_ngrams("nepal")[:3] == ["<ne", "nep", "epa"] and "epal>" in char_ngrams("nepal")
    assert char_ngrams("<eos>") == [] and char_ngrams(",") == [] and char_ngrams("N") == []


def test_ngram_table_keeps_parts_shared_by_two_words_so_nepali_shares_with_nepal():
    itos = ["<unk>", "<eos>", "nepal", "nepali", "france", ","]
    ids, offsets, count = ngram_table(itos)
    per_word = [set(ids[offsets[i]:(offsets[i + 1] if i + 1 < len(itos) else len(ids))].tolist())
                for i in range(len(itos))]
    assert per_word[0] == per_word[1] == per_word[5] == set()
    assert per_word[2] == per_word[3] and len(per_word[2]) == count >= 9   # "<ne" ... "<nepa", "nepal"
    assert per_word[4] == set()                                          # "france" shares nothing with them


def test_nepal_and_nepali_start_closer_than_unrelated_words():
    itos = ["<unk>", "<eos>", "nepal", "nepali", "france", "french", "the", "she"]
    ids, offsets, count = ngram_table(itos)
    torch.manual_seed(0)
    model = RNNModel(len(itos), "lstm", 32, 32, 1, subword_ngrams=count)
    model.set_subwords(ids, offsets)
    w = torch.nn.functional.normalize(model.embedding_matrix().detach(), dim=1)
    assert float(w[2] @ w[3]) > 0.5 > abs(float(w[2] @ w[4]))


def test_subwords_need_tied_weights_and_matching_offsets():
    with pytest.raises(ValueError, match="tie_weights"):
        RNNModel(10, "lstm", 8, 8, 1, tie_weights=False, subword_ngrams=4)
    model = RNNModel(10, "lstm", 8, 8, 1, subword_ngrams=4)
    with pytest.raises(ValueError, match="offsets"):
        model.set_subwords(torch.zeros(3, dtype=torch.long), torch.zeros(9, dtype=torch.long))


def test_folded_model_gives_the_same_log_probs():
    itos = ["<unk>", "<eos>"] + [f"{a}{b}ing" for a in "abc" for b in "xyz"]
    ids, offsets, count = ngram_table(itos)
    model = RNNModel(len(itos), "gru", 8, 12, 2, subword_ngrams=count)
    model.set_subwords(ids, offsets)
    model.eval()
    folded = model.fold_subwords().eval()
    assert folded.subword_ngrams == 0 and not any(k.startswith("ngrams") for k in folded.state_dict())
    x = torch.randint(0, len(itos), (6, 3))
    a, _ = model(x, model.init_hidden(3))
    b, _ = folded(x, folded.init_hidden(3))
    torch.testing.assert_close(a, b)


def test_training_with_subwords_learns_resumes_and_exports_a_plain_word_model(tmp_path):
    corpus = tiny_corpus()
    learnt = train(LMConfig(**{**TINY, "epochs": 3, "lr": 2e-2}, run_dir=str(tmp_path / "c")), corpus=corpus)
    assert learnt["best_valid_ppl"] < len(corpus.vocab) / 2        # it learnt the grammar, not a flat guess
    full = train(LMConfig(**TINY, run_dir=str(tmp_path / "a")), corpus=corpus)
    n = {"i": 0}
    train(LMConfig(**TINY, run_dir=str(tmp_path / "b")), corpus=corpus,
          should_stop=lambda: (n.__setitem__("i", n["i"] + 1) or n["i"] >= 5))
    resumed = train(LMConfig(**TINY, run_dir=str(tmp_path / "b"), resume=True), corpus=corpus)
    assert resumed["best_valid_ppl"] == pytest.approx(full["best_valid_ppl"], rel=1e-5)

    best_weights = load_file(str(tmp_path / "a" / "best" / "weights.safetensors"))
    assert "ngrams.weight" in best_weights                          # the run keeps its parts ...
    shipped = ckpt.export_model_dir(tmp_path / "a" / "best", tmp_path / "shipped")
    weights = load_file(str(shipped / "weights.safetensors"))
    assert "ngrams.weight" not in weights and weights["encoder.weight"].dtype == torch.float16   # ... shipped: folded
    model, vocab, config = ckpt.load_model_dir(shipped)
    assert config["model"]["subword_ngrams"] == 0 and model.ntoken == len(vocab)
    run_model, _, _ = ckpt.load_model_dir(tmp_path / "a" / "best")  # a run's best/ loads folded too
    x = torch.tensor([[vocab.stoi["the"]], [vocab.stoi["cat"]]])
    a, _ = run_model(x, run_model.init_hidden(1))
    b, _ = model(x, model.init_hidden(1))
    torch.testing.assert_close(a, b, atol=5e-3, rtol=0)             # float16 storage


def test_cosine_schedule_anneals_by_the_time_budget():
    cfg = LMConfig(run_dir="x", schedule="cosine", lr=1.0, min_lr=0.0, warmup_steps=0, time_budget_min=10)
    assert lr_at(cfg, 1.0, 0, 1000, invocation_s=0) == pytest.approx(1.0)
    assert lr_at(cfg, 1.0, 0, 1000, invocation_s=300) == pytest.approx(0.5)    # half the budget: half-way down
    assert lr_at(cfg, 1.0, 500, 1000, invocation_s=60) == pytest.approx(0.5)   # half the steps first
    assert lr_at(cfg, 1.0, 0, 1000, invocation_s=900) == pytest.approx(0.0)
    assert math.isclose(lr_at(LMConfig(run_dir="x", schedule="cosine", lr=1.0, min_lr=0.0, warmup_steps=0),
                              1.0, 0, 1000, invocation_s=10**6), 1.0)       # no budget: time plays no part
