"""Decoder, decoding rules, checkpoint round trip and the Captioner API (tiny random model)."""
import json

import pytest
import torch
from PIL import Image

from ml.caption.captioner import Captioner
from ml.caption.checkpoint import CheckpointError, load_model, save_model
from ml.caption.decode import beam_search, decode, greedy_decode
from ml.caption.decoder import caption_loss
from ml.caption.vocab import Vocab
from tests.support.captions import TINY_WORDS, tiny_decoder, tiny_model_dir


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build([TINY_WORDS], min_freq=1)


@pytest.fixture(scope="module")
def decoder(vocab):
    return tiny_decoder(vocab, seed=3)


@pytest.fixture(scope="module")
def features():
    torch.manual_seed(1)
    return torch.randn(4, 49, 1280).relu()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("m") / "caption-tiny")


def test_teacher_forcing_shapes_and_loss(decoder, vocab, features):
    caps = torch.tensor([[1, 5, 6, 7, 2], [1, 5, 2, 0, 0]])
    lengths = torch.tensor([5, 3])
    decoder.train()
    logits, alphas = decoder(features[:1], caps, lengths, torch.tensor([0, 0]))
    decoder.eval()
    assert logits.shape == (2, 4, len(vocab)) and alphas.shape == (2, 4, 49)
    assert torch.all(alphas[1, 2:] == 0)                     # past the end: untouched
    loss, ce = caption_loss(logits, caps, lengths, alphas)
    loss.backward()
    assert torch.isfinite(loss) and loss > ce > 0


def test_beam_one_equals_greedy(decoder, vocab, features):
    g = greedy_decode(decoder, features, vocab, max_len=12)
    b = beam_search(decoder, features, vocab, beam=1, max_len=12)
    for (gh,), (bh,) in zip(g, b):
        assert gh.tokens == bh.tokens
        assert gh.logprob == pytest.approx(bh.logprob, abs=1e-4)
        assert torch.allclose(gh.alphas, bh.alphas)


def test_beam_nbest_attention_and_no_unk(decoder, vocab, features):
    hyps = decode(decoder, features, vocab, beam=4, max_len=12)
    assert len(hyps) == 4
    for nbest in hyps:
        assert len(nbest) == 4
        scores = [h.score for h in nbest]
        assert scores == sorted(scores, reverse=True)
        for h in nbest:
            assert vocab.unk_id not in h.tokens and vocab.start_id not in h.tokens
            assert h.alphas.shape == (len(h.tokens), 49)
            assert torch.allclose(h.alphas.sum(1), torch.ones(len(h.tokens)), atol=1e-5)
            assert all(a != b for a, b in zip(h.tokens, h.tokens[1:]))   # no "a a"
            tri = [tuple(h.tokens[i:i + 3]) for i in range(len(h.tokens) - 2)]
            assert len(tri) == len(set(tri))                               # no repeated trigram


def test_unk_is_never_emitted_even_when_most_likely(decoder, vocab, features):
    with torch.no_grad():
        decoder.fc.bias[vocab.unk_id] = 100.0
    try:
        for beam in (1, 3):
            for nbest in decode(decoder, features, vocab, beam=beam, max_len=8):
                assert all(vocab.unk_id not in h.tokens for h in nbest)
    finally:
        with torch.no_grad():
            decoder.fc.bias[vocab.unk_id] = 0.0


def test_batched_equals_one_by_one(decoder, vocab, features):
    together = beam_search(decoder, features, vocab, beam=3, max_len=10)
    for i in range(features.size(0)):
        alone = beam_search(decoder, features[i:i + 1], vocab, beam=3, max_len=10)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[i]]


def test_checkpoint_round_trip_exact(tmp_path, decoder, vocab):
    path = save_model(tmp_path / "m", decoder, vocab, dtype=torch.float32)
    _, loaded, vocab2, config = load_model(path)
    assert vocab2.itos == vocab.itos
    a, b = decoder.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert loaded.fc.weight is loaded.embedding.weight                # tying survives
    assert config["manifest"]["kind"] == "caption" and config["manifest"]["slot"] == "flickr8k"
    manifest = json.loads((path / "unroll.json").read_text())
    assert manifest["kind"] == "caption" and manifest["slot"] == "flickr8k" and manifest["label"]
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "metrics.json", "unroll.json", "vocab.json", "weights.safetensors"]


def test_checkpoint_float16_round_trip(tmp_path, decoder, vocab):
    path = save_model(tmp_path / "m16", decoder, vocab)               # float16 default
    _, loaded, _, _ = load_model(path)
    for k, v in decoder.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.half().float())


def test_fine_tuned_encoder_blocks_are_saved(tmp_path, decoder, vocab):
    from ml.caption.encoder import Encoder
    enc = Encoder(pretrained=False, fine_tune_blocks=1)
    with torch.no_grad():
        enc.features[18][0].weight.fill_(0.5)
    path = save_model(tmp_path / "ft", decoder, vocab, encoder=enc, dtype=torch.float32)
    loaded_enc, _, _, config = load_model(path)
    assert config["encoder"]["fine_tune_blocks"] == 1
    assert torch.all(loaded_enc.features[18][0].weight == 0.5)


def test_incomplete_model_dir_is_rejected(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path)


def test_captioner_result_format(model_dir, tmp_path):
    cap = Captioner.from_dir(model_dir)
    path = tmp_path / "x.jpg"
    Image.new("RGB", (224, 224), (120, 80, 200)).save(path)
    out = cap.caption(path, beam=3)
    assert set(out) == {"caption", "beams", "words", "attention", "seconds"}
    assert out["caption"] == " ".join(out["words"]) == out["beams"][0]["caption"]
    assert len(out["beams"]) == 3 and all({"caption", "logprob", "score"} <= set(b) for b in out["beams"])
    assert len(out["attention"]) == len(out["words"])
    for grid in out["attention"]:
        assert len(grid) == 7 and all(len(row) == 7 for row in grid)
        assert sum(map(sum, grid)) == pytest.approx(1.0, abs=49 * 0.5e-4)   # 49 weights rounded to 4 decimals
        assert all(round(w, 4) == w for row in grid for w in row)
    assert out["seconds"] > 0 and "<unk>" not in out["caption"]
    same = cap.caption(path.read_bytes(), beam=3)
    assert same["caption"] == out["caption"]
    assert cap.caption(Image.open(path), beam=1)["caption"] == cap.caption(path, beam=1)["caption"]


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P"])
def test_captioner_handles_odd_modes_and_sizes(model_dir, mode):
    cap = Captioner.from_dir(model_dir, warmup=False)
    img = Image.new("RGB", (4000, 3000), (30, 140, 60)).convert(mode)
    out = cap.caption(img, beam=2)
    assert isinstance(out["caption"], str) and out["beams"]


def test_caption_batch(model_dir):
    cap = Captioner.from_dir(model_dir, warmup=False)
    imgs = [Image.new("RGB", (224, 224), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    batch = cap.caption_batch(imgs, beam=3)
    assert [b["caption"] for b in batch] == [cap.caption(i, beam=3)["caption"] for i in imgs]


def test_int8_decoder_and_fused_encoder(model_dir):
    fp32 = Captioner.from_dir(model_dir, warmup=False, int8=False)
    int8 = Captioner.from_dir(model_dir, warmup=False, int8=True)
    img = Image.new("RGB", (224, 224), (200, 120, 40))
    x = torch.randn(2, 3, 224, 224)
    # Folded BatchNorm + channels_last trunk gives the training encoder's features.
    assert torch.allclose(fp32.encode(x), fp32.encoder(x), atol=1e-4)
    out = int8.caption(img, beam=3)
    assert out["beams"] and all(abs(sum(map(sum, g)) - 1) < 49 * 0.5e-4 for g in out["attention"])
    # int8 weights everywhere except the tiny attention-score layer, which stays float (it is faster so).
    eager = int8.decoder.decoder                  # Captioner.decoder is the traced wrapper around it
    assert type(eager.full_att) is torch.nn.Linear and eager.full_att.weight.dtype == torch.float32
    assert type(eager.fc) is not torch.nn.Linear and type(eager.lstm) is not torch.nn.LSTMCell
    feats = fp32.encode(x)
    with torch.inference_mode():
        logits_fp32 = fp32.decoder.step(torch.tensor([4, 5]), *fp32.decoder.prepare(feats))[0]
        logits_int8 = int8.decoder.step(torch.tensor([4, 5]), *int8.decoder.prepare(feats))[0]
    assert (logits_int8 - logits_fp32).abs().max() < 0.03 * logits_fp32.abs().max()   # measured: 0.006


def test_bf16_encoder_follows_config_and_cpu_and_keeps_the_features(tmp_path, monkeypatch):
    import ml.caption.captioner as captioner_module

    config = json.loads((tiny_model_dir(tmp_path / "m") / "config.json").read_text())
    config["inference"]["bf16_encoder"] = True
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(captioner_module, "has_native_bf16", lambda: False)
    assert not Captioner.from_dir(tmp_path / "m", warmup=False).bf16_encoder   # emulated bf16 would be slower
    monkeypatch.setattr(captioner_module, "has_native_bf16", lambda: True)
    bf16 = Captioner.from_dir(tmp_path / "m", warmup=False)
    assert bf16.bf16_encoder and not Captioner.from_dir(tmp_path / "m", warmup=False, bf16_encoder=False).bf16_encoder
    x = torch.rand(2, 3, 224, 224)
    fast, exact = bf16.encode(x), bf16.encoder(x)
    assert fast.dtype == torch.float32 and fast.shape == (2, 49, 1280)
    assert torch.nn.functional.cosine_similarity(fast.flatten(1), exact.flatten(1)).min() > 0.99


def test_scst_nucleus_sampling_keeps_the_top_mass_only(decoder, vocab, features):
    from ml.caption.scst import _nucleus, sample

    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    assert torch.equal(_nucleus(probs.clone(), 0.7), torch.tensor([[0.0, 0.5, 0.0, 0.3]]))
    assert torch.equal(_nucleus(probs.clone(), 1.0), probs)
    # A vanishing nucleus is the arg-max word: every draw is the same caption.
    draws = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        tokens, logp, mask = sample(decoder, features, vocab, k=2, max_len=6, top_p=1e-9)
        draws.append(tokens)
        assert logp.requires_grad and tokens.shape == logp.shape == mask.shape
    assert torch.equal(draws[0], draws[1]) and torch.equal(draws[0][0::2], draws[0][1::2])


@pytest.mark.parametrize("int8", [False, True])
def test_traced_step_equals_the_eager_step_for_any_number_of_rows(model_dir, int8):
    from ml.caption.decoder import TracedStep

    cap = Captioner.from_dir(model_dir, warmup=False, int8=int8)
    assert isinstance(cap.decoder, TracedStep)
    eager = cap.decoder.decoder
    torch.manual_seed(0)
    with torch.inference_mode():
        for rows in (1, 2, 3, 7):
            state = eager.prepare(torch.rand(rows, 49, eager.cfg.feature_dim))
            tokens = torch.randint(4, eager.cfg.vocab_size, (rows,))
            for ours, theirs in zip(cap.decoder.step(tokens, *state), eager.step(tokens, *state)):
                assert ours.shape == theirs.shape and torch.equal(ours, theirs)
