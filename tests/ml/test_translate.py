"""The translator (ml/translate): model shapes, decoding rules, training on a toy corpus, stop and resume,
float16 export without pickle, sacreBLEU scoring and the management commands."""
import itertools
import json

import pytest
import torch
from django.core.management import CommandError, call_command

from ml.translate import checkpoint
from ml.translate.data import BOS, EOS, PAD, ParallelData, Subwords, pad_sources, read_lines
from ml.translate.decode import beam_search, greedy
from ml.translate.evaluate import bleu_by_length, score
from ml.translate.model import ModelConfig, Seq2Seq, translation_loss
from ml.translate.train import TranslateConfig, train
from ml.translate.translator import Translator
from tests.support.translate import toy_pairs, write_parallel

SMALL = {"src_vocab": 100, "tgt_vocab": 100, "emb_dim": 32, "enc_hidden": 32, "dec_hidden": 64, "dropout": 0.0,
         "batch_size": 32, "lr": 1e-2, "warmup_steps": 5, "bf16": False, "threads": 1, "val_lines": 50, "ema": 0.0,
         "log_every": 5}


def config(tmp_path, run="run", **changes) -> TranslateConfig:
    source, target = write_parallel(tmp_path, 600)
    return TranslateConfig(**{**SMALL, "train_source": str(source), "train_target": str(target),
                              "run_dir": str(tmp_path / run), **changes})


def batch(model_cfg, sizes=(5, 3)):
    """Random sources of the given lengths (ending in EOS, PAD after) and decoder inputs."""
    torch.manual_seed(0)
    lengths = torch.tensor(sizes)
    src = torch.full((len(sizes), max(sizes)), PAD)
    for row, n in enumerate(sizes):
        src[row, :n - 1] = torch.randint(4, model_cfg.src_vocab, (n - 1,))
        src[row, n - 1] = EOS
    y = torch.randint(4, model_cfg.tgt_vocab, (len(sizes), 4))
    y[:, 0] = BOS
    return src, lengths, y


@pytest.mark.parametrize("attention,input_feed", [("general", True), ("general", False), ("none", True)])
def test_shapes_and_attention_rows(attention, input_feed):
    cfg = ModelConfig(src_vocab=50, tgt_vocab=60, emb_dim=8, enc_hidden=8, dec_hidden=16, attention=attention,
                      input_feed=input_feed, dropout=0.0)
    src, lengths, y = batch(cfg)
    logits, weights = Seq2Seq(cfg).eval()(src, lengths, y)
    assert logits.shape == (2, 4, 60)
    if attention == "none":
        assert weights is None
    else:
        assert weights.shape == (2, 4, 5)
        assert torch.allclose(weights.sum(-1), torch.ones(2, 4), atol=1e-5)
        assert weights[1, :, 3:].abs().max() == 0          # padding gets no attention


@pytest.mark.parametrize("input_feed", [True, False])
def test_teacher_forcing_equals_step_by_step(input_feed):
    """The training path (one call over the sequence) and the decoding path (one step at a time) agree."""
    cfg = ModelConfig(src_vocab=50, tgt_vocab=60, emb_dim=8, enc_hidden=8, dec_hidden=16, input_feed=input_feed,
                      dropout=0.0)
    model = Seq2Seq(cfg).eval()
    src, lengths, y = batch(cfg)
    with torch.no_grad():
        logits, _ = model(src, lengths, y)
        st = model.encode(src, lengths)
        for t in range(y.size(1)):
            step_logits, _, st = model.decoder.step(y[:, t], st)
            assert torch.allclose(step_logits, logits[:, t], atol=1e-5)


def test_tied_output_shares_the_target_embedding():
    model = Seq2Seq(ModelConfig(src_vocab=50, tgt_vocab=60, emb_dim=8, enc_hidden=8, dec_hidden=16))
    assert model.decoder.out.weight is model.decoder.embed.weight


def test_shared_embeddings_are_one_matrix_for_source_target_and_output():
    model = Seq2Seq(ModelConfig(src_vocab=60, tgt_vocab=60, emb_dim=8, enc_hidden=8, dec_hidden=16,
                                share_embeddings=True))
    assert model.encoder.embed.weight is model.decoder.embed.weight is model.decoder.out.weight
    with pytest.raises(ValueError, match="src_vocab must equal tgt_vocab"):
        ModelConfig(src_vocab=50, tgt_vocab=60, share_embeddings=True)


def test_without_attention_there_is_no_attention_layer():
    model = Seq2Seq(ModelConfig(src_vocab=50, tgt_vocab=60, emb_dim=8, enc_hidden=8, dec_hidden=16, attention="none"))
    assert not any(name.startswith("decoder.key") for name, _ in model.named_parameters())


def test_a_shared_vocabulary_run_saves_one_subword_model_and_loads_tied(tmp_path):
    """One sentencepiece model over both languages and one embedding: written once in the weights, read back
    with the encoder, decoder input and output still one matrix, and translating as before export."""
    cfg = config(tmp_path, epochs=2, shared_vocab=True, export_dir=str(tmp_path / "export"))
    result = train(cfg)
    assert result["status"] == "finished"
    exported = tmp_path / "export"
    assert (exported / "source.spm").is_file() and not (exported / "target.spm").exists()
    with open(exported / "weights.safetensors", "rb") as f:
        names = set(json.loads(f.read(int.from_bytes(f.read(8), "little")))) - {"__metadata__"}
    assert "decoder.embed.weight" in names and not names & {"encoder.embed.weight", "decoder.out.weight"}
    model, source_sw, _, _ = checkpoint.load_model(exported)
    assert model.encoder.embed.weight is model.decoder.embed.weight is model.decoder.out.weight
    best, _, _, _ = checkpoint.load_model(tmp_path / "run" / "best")
    src, lengths = pad_sources([source_sw.encode(toy_pairs(1, seed=5)[0][0]) + [EOS]])
    with torch.no_grad():
        shipped, _, _ = model.decoder.step(torch.tensor([BOS]), model.encode(src, lengths))
        trained, _, _ = best.decoder.step(torch.tensor([BOS]), best.encode(src, lengths))
    assert torch.allclose(shipped, trained, atol=2e-2)       # float16 storage, same network


def test_loss_ignores_padding():
    logits = torch.randn(1, 3, 10)
    target = torch.tensor([[5, 6, PAD]])
    assert torch.isclose(translation_loss(logits, target, 0.0),
                         torch.nn.functional.cross_entropy(logits[0, :2], target[0, :2]))


def test_subwords_round_trip_and_reserved_ids(tmp_path):
    pairs = toy_pairs(200)
    sw = Subwords.train([t for _, t in pairs], 100)
    ids = sw.encode(pairs[0][1])
    assert min(ids) > EOS and sw.decode(ids) == pairs[0][1]
    sw.save(tmp_path / "t.spm")
    assert Subwords.load(tmp_path / "t.spm").encode(pairs[1][1]) == sw.encode(pairs[1][1])
    assert sw.pieces([BOS, EOS, PAD]) == ["<s>", "</s>", "<pad>"]


def test_batches_group_lengths_and_cover_every_pair():
    pairs = toy_pairs(100)
    sw_s, sw_t = Subwords.train([s for s, _ in pairs], 100), Subwords.train([t for _, t in pairs], 100)
    data = ParallelData(pairs, sw_s, sw_t)
    batches = data.batches(16, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(100))
    src, lengths, y_in, y_out = data.tensors(batches[0])
    assert (y_in[:, 0] == BOS).all() and (y_out.gather(1, (y_out != PAD).sum(1, keepdim=True) - 1) == EOS).all()
    assert int(lengths.max()) - int(lengths.min()) <= 4      # similar lengths, little padding


def test_training_learns_the_toy_language_then_exports_float16(tmp_path):
    events = []
    result = train(config(tmp_path, epochs=6, export_dir=str(tmp_path / "export")), on_progress=events.append)
    assert result["status"] == "finished" and result["best"] > 60, result
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 6 and epochs[-1]["val"]["bleu"] > epochs[0]["val"]["bleu"]
    assert any(e["event"] == "step" for e in events)

    exported = tmp_path / "export"
    assert sorted(p.name for p in exported.iterdir()) == sorted(checkpoint.FILES + ["unroll.json"])
    with open(exported / "weights.safetensors", "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
    manifest = json.loads((exported / "unroll.json").read_text())
    assert manifest["kind"] == "translate" and manifest["slot"] == "en-de" and manifest["name"] == "export"
    assert json.loads((tmp_path / "run" / "best" / "unroll.json").read_text())["name"] == "best"

    translator = Translator.from_dir(exported)
    source, reference = toy_pairs(1, seed=99)[0]
    out = translator.translate(source, beam=4)
    assert out["translation"] == reference
    assert len(out["nbest"]) == 4 and out["nbest"][0]["score"] >= out["nbest"][-1]["score"]
    attention = out["attention"]
    assert len(attention["weights"]) == len(attention["target"])
    assert all(len(row) == len(attention["source"]) and abs(sum(row) - 1) < 1e-2 for row in attention["weights"])
    # Reversed order: the first target word attends to the last source word more than to the first.
    first = attention["weights"][0]
    assert first[-2] > first[0]


def test_greedy_and_beam_one_agree(tmp_path):
    train(config(tmp_path, epochs=2))
    model, sw_s, _, _ = checkpoint.load_model(tmp_path / "run" / "best")
    for source, _ in toy_pairs(5, seed=7):
        ids = sw_s.encode(source) + [EOS]
        assert beam_search(model, ids, beam=1)[0].tokens == greedy(model, [ids])[0]


@pytest.mark.parametrize("attention", ["general", "none"])
def test_sentences_in_one_batched_beam_search_get_what_each_gets_alone(tmp_path, attention):
    """Different lengths padded together, beams ending at different steps: every sentence's n-best list, scores
    and attention are its own (up to float rounding). An empty text fails alone."""
    train(config(tmp_path, epochs=2, attention=attention))
    translator = Translator(*checkpoint.load_model(tmp_path / "run" / "best"), bf16_output=False)
    sources = [s for s, _ in toy_pairs(9, seed=11)] + ["a"]
    together = translator.translate_many(sources[:4] + ["  "] + sources[4:], beam=4)
    assert isinstance(together.pop(4), ValueError)
    for source, answer in zip(sources, together):
        alone = translator.translate(source, beam=4)
        assert answer["translation"] == alone["translation"]
        assert [h["text"] for h in answer["nbest"]] == [h["text"] for h in alone["nbest"]]
        assert [h["score"] for h in answer["nbest"]] == pytest.approx([h["score"] for h in alone["nbest"]], abs=1e-3)
        if attention == "general":
            assert answer["attention"]["source"] == alone["attention"]["source"]
            assert torch.tensor(answer["attention"]["weights"]).allclose(torch.tensor(alone["attention"]["weights"]),
                                                                         atol=1e-3)
        else:
            assert answer["attention"] is None


def stop_after(steps: int):
    """A should_stop() that says stop once ``steps`` training steps have run (it is asked before each one)."""
    asked = itertools.count(1)
    return lambda: next(asked) > steps


def test_a_stopped_run_resumes_where_it_stopped(tmp_path):
    first = train(config(tmp_path, epochs=2, ema=0.99), should_stop=stop_after(7))
    assert first["status"] == "cancelled" and first["step"] == 7
    events = []
    second = train(config(tmp_path, epochs=2, ema=0.99, resume=True), on_progress=events.append)
    assert events[0] == {"event": "resumed", "epoch": 0, "step": 7}
    assert second["status"] == "finished" and second["step"] == second["total_steps"]


def test_a_time_budget_stop_inside_an_epoch_validates_the_weights_it_stopped_on(tmp_path):
    """The schedule anneals to the budget's end: those weights are scored and kept when best, and a resume would
    still finish the epoch."""
    first = train(config(tmp_path, epochs=2, ema=0.99), should_stop=stop_after(7))
    assert first["status"] == "cancelled" and not (tmp_path / "run" / "best").exists()
    events = []
    second = train(config(tmp_path, epochs=2, ema=0.99, resume=True, time_budget_min=1e-9,
                          export_dir=str(tmp_path / "model")), on_progress=events.append)
    assert second["status"] == "time_budget" and second["step"] == 7
    scored = [e for e in events if e["event"] == "epoch"]
    assert len(scored) == 1 and scored[0]["partial"] and scored[0]["improved"]
    history = json.loads((tmp_path / "run" / "best" / "metrics.json").read_text())
    assert 0 < history["epoch"] < 1 and history["val"]["bleu"] == scored[0]["val_bleu"]
    assert (tmp_path / "model" / "weights.safetensors").is_file()
    state = json.loads((tmp_path / "run" / "last" / "state.json").read_text())["loop"]
    assert (state["epoch"], state["step_in_epoch"]) == (0, 7)


def test_a_used_run_directory_is_refused_without_resume(tmp_path):
    train(config(tmp_path, epochs=1))
    with pytest.raises(ValueError, match="holds a run already"):
        train(config(tmp_path, epochs=1))


@pytest.mark.parametrize("changes,message", [
    ({"attention": "dot"}, "attention must be one of"),
    ({"target": "en"}, "source and target must differ"),
    ({"train_target": ""}, "give both"),
    ({"src_vocab": 10}, "at least 100"),
])
def test_bad_settings_are_refused(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        train(config(tmp_path, **changes))


def test_misaligned_files_are_refused(tmp_path):
    source, target = write_parallel(tmp_path, 100)
    target.write_text("\n".join(read_lines(target)[:-3]) + "\n")
    with pytest.raises(ValueError, match="100 source lines but 97 target lines"):
        train(TranslateConfig(**{**SMALL, "train_source": str(source), "train_target": str(target),
                                 "run_dir": str(tmp_path / "run")}))


def test_a_model_directory_must_be_whole(tmp_path):
    train(config(tmp_path, epochs=1))
    best = tmp_path / "run" / "best"
    (best / "target.spm").unlink()
    with pytest.raises(checkpoint.CheckpointError, match="target.spm is missing"):
        checkpoint.load_model(best)


def test_scores_come_from_sacrebleu():
    import sacrebleu

    hyps, refs = ["Ein Hund läuft .", "Zwei Männer sitzen auf einer Bank."], ["Ein Hund rennt.", "Zwei Männer sitzen."]
    result = score(hyps, refs)
    assert result["bleu"] == round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)
    assert "tok:13a" in result["bleu_signature"] and "case:mixed" in result["bleu_signature"]
    assert score(refs, refs)["bleu"] == 100
    rows = bleu_by_length(["a b c", "a b c d e f g h i j k"], refs, refs)
    assert [(r["words"], r["n"]) for r in rows] == [("1-9", 1), ("10-14", 1)]
    with pytest.raises(ValueError):
        score(hyps, refs[:1])


@pytest.mark.django_db
def test_the_commands_translate_and_evaluate(tmp_path, capsys):
    train(config(tmp_path, epochs=4, export_dir=str(tmp_path / "model")))
    pairs = toy_pairs(20, seed=5)
    (tmp_path / "src.txt").write_text("\n".join(s for s, _ in pairs) + "\n")
    (tmp_path / "ref.txt").write_text("\n".join(t for _, t in pairs) + "\n")
    call_command("evaluate_translator", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                 "--model", str(tmp_path / "model"), "--beam", "3", "--json", "--record")
    result = json.loads(capsys.readouterr().out)
    assert {"bleu", "chrf", "n_sentences", "seconds_per_sentence"} <= set(result) and result["n_sentences"] == 20
    recorded = json.loads((tmp_path / "model" / "metrics.json").read_text())["src.txt"]
    assert recorded["bleu"] == result["bleu"] and recorded["by_length"]

    call_command("evaluate_translator", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                 "--model", str(tmp_path / "model"), "--beam", "3", "--choose-alpha", "0,2.5", "--save", "--json")
    chosen = json.loads(capsys.readouterr().out)
    assert [row["length_alpha"] for row in chosen["tried"]] == [0, 2.5] and chosen["saved"]
    saved = json.loads((tmp_path / "model" / "config.json").read_text())["decode"]
    assert saved["length_alpha"] == chosen["best"]["length_alpha"] and saved["block_ngram"] == 4
    call_command("evaluate_translator", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                 "--model", str(tmp_path / "model"), "--beam", "3", "--choose-alpha", "0.5")
    assert "length_alpha 0.5: BLEU" in capsys.readouterr().out     # not saved: the model keeps its own
    assert json.loads((tmp_path / "model" / "config.json").read_text())["decode"] == saved
    call_command("evaluate_translator", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                 "--model", str(tmp_path / "model"), "--beam", "3", "--length-alpha", "2.5", "--json")
    assert json.loads(capsys.readouterr().out)["decode"]["length_alpha"] == 2.5
    with pytest.raises(CommandError, match="choose decoding on val"):
        call_command("evaluate_translator", "--split", "test_2016_flickr", "--model", str(tmp_path / "model"),
                     "--choose-alpha", "1")
    with pytest.raises(CommandError, match="separated by commas"):
        call_command("evaluate_translator", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                     "--model", str(tmp_path / "model"), "--choose-alpha", "1;2")

    call_command("translate", pairs[0][0], "--model", str(tmp_path / "model"), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["translation"] and out["nbest"]
    with pytest.raises(CommandError, match="must not be empty"):
        call_command("translate", "   ", "--model", str(tmp_path / "model"))
    (tmp_path / "ref.txt").write_text("one line\n")
    with pytest.raises(CommandError, match="20 source lines but 1 references"):
        call_command("evaluate_translator", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                     "--model", str(tmp_path / "model"))


def test_the_schedule_warms_up_decays_and_respects_the_time_budget():
    from ml.translate.train import ema_decay, lr_factor

    cfg = TranslateConfig(run_dir="x", warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, 100, cfg) == pytest.approx(0.1) and lr_factor(9, 100, cfg) == pytest.approx(1.0)
    assert lr_factor(100, 100, cfg) == pytest.approx(0.1)
    assert lr_factor(20, 100, cfg, budget_used=1.0) == pytest.approx(0.1)    # the budget ran out first
    assert lr_factor(20, 100, cfg, budget_used=0.0) > 0.9
    assert ema_decay(0, 0.999) == pytest.approx(0.1) and ema_decay(10**6, 0.999) == 0.999


def test_a_tab_separated_file_trains_like_two_files(tmp_path):
    pairs = toy_pairs(300)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("\n".join(f"{s}\t{t}" for s, t in pairs) + "\n\n", encoding="utf-8")
    result = train(TranslateConfig(**{**SMALL, "train_pairs": str(tsv), "run_dir": str(tmp_path / "run"),
                                      "epochs": 1}))
    assert result["status"] == "finished"
    tsv.write_text("one\ttwo\nthree\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 has 1 tab-separated columns"):
        train(TranslateConfig(**{**SMALL, "train_pairs": str(tsv), "run_dir": str(tmp_path / "run2")}))
