"""Tokenizer and Vocab: PTB maps to itself, prompts are normalised, edge cases are handled."""
import pytest

from ml.lm.tokenizer import EOS, NUM, UNK, Vocab, tokenize

PTB_LINES = [
    "pierre <unk> N years old will join the board as a nonexecutive director nov. N",
    "we 're talking about years ago before anyone heard of asbestos having any questionable properties",
    "new england electric based in <unk> mass. had offered $ N billion to acquire ps of new hampshire",
    "the average maturity of the funds ' investments <unk> by a day",
    "u.s. companies do n't like the 1950s rules & regulations of mr. smith 's york-based firm",
]


@pytest.fixture
def vocab():
    return Vocab.build(t for line in PTB_LINES for t in line.split())


def test_ptb_maps_to_itself(vocab):
    for line in PTB_LINES:
        assert tokenize(line, vocab) == line.split()


def test_prompt_normalisation(vocab):
    toks = tokenize("The Board's director, Mr. Smith, don't join in 1990!", vocab)
    assert toks == ["the", "board", "'s", "director", "mr.", "smith", "do", "n't", "join", "in", "N", "<eos>"]


def test_sentence_ends_become_eos_for_ptb_vocab(vocab):
    assert tokenize("The board. The director!? Mr. Smith", vocab) == [
        "the", "board", EOS, "the", "director", EOS, "mr.", "smith"]
    assert tokenize("...", vocab) == []  # no leading <eos> from punctuation alone


def test_numbers_become_N():
    assert tokenize("3.5 1,000 -4 1/2 2nd 1950s") == [NUM, NUM, NUM, NUM, NUM, "1950s"]


def test_newlines_are_eos_and_control_chars_vanish():
    assert tokenize("a b\nc\x00d\x07\te") == ["a", "b", EOS, "c", "d", "e"]


def test_empty_and_whitespace():
    assert tokenize("") == []
    assert tokenize("   \t ") == []


def test_only_punctuation_is_dropped_with_vocab(vocab):
    assert tokenize("?!... ,,, --", vocab) == []
    assert tokenize(", ; : -- ( )", vocab) == []


def test_only_unknown_words(vocab):
    assert tokenize("zzzq qwxv", vocab) == [UNK, UNK]


def test_unicode(vocab):
    assert tokenize("Caf\u00e9 \u201cthe\u201d board\u2019s \u00a0 \U0001f600", vocab) == [UNK, "the", "board", "'s"]
    assert tokenize("\uff34\uff28\uff25 board") == ["the", "board"]  # full-width letters via NFKC


def test_long_input_is_linear():
    toks = tokenize("the board " * 5000)
    assert len(toks) == 10000


def test_non_str_rejected():
    with pytest.raises(TypeError):
        tokenize(None)


def test_vocab_round_trip(tmp_path):
    v = Vocab.build(["b", "a", "b", "c", "b", "a"])
    assert v.itos[:2] == [UNK, EOS] and v.itos[2:] == ["b", "a", "c"]
    v.save(tmp_path / "vocab.json")
    w = Vocab.load(tmp_path / "vocab.json")
    assert w.itos == v.itos and w.encode(["a", "zz"]) == [v.stoi["a"], v.unk_id]
    with pytest.raises(ValueError):
        Vocab(["a", "a"])


def test_real_ptb_valid_split_maps_to_itself():
    from treebank import penn  # the installed corpus package; no network

    v = Vocab.build(penn["train"].split())
    assert len(v) == 10000
    lines = [ln for ln in penn["valid"].split("\n") if ln.strip()]
    assert all(tokenize(ln, v, newline_eos=False) == ln.split() for ln in lines)
