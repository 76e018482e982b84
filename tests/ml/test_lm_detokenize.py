"""How model tokens are shown to people: never <eos>, <unk> or N as words."""
from ml.lm.detokenize import detokenize, display_token, to_model_text, vocabulary_note
from ml.lm.tokenizer import Vocab, tokenize


def test_sentence_ends_numbers_and_clitics_read_as_text():
    tokens = ["prices", "rose", "N", "N", "<eos>", "the", "company", "'s", "$", "N", "million", "<eos>", "<eos>"]
    assert detokenize(tokens) == "prices rose [number] [number]. the company's $[number] million."


def test_an_eos_after_a_full_stop_adds_no_second_one_and_a_leading_eos_is_a_full_stop():
    assert detokenize(["my", "lord", "!", "<eos>", "go"]) == "my lord! go"
    assert detokenize(["my", "lord", ",", "<eos>", "[", "exeunt", ".", "]", "<eos>"]) == "my lord, [exeunt.]"
    assert detokenize(["<eos>", "ca", "n't", "stop"]) == ". can't stop"
    assert detokenize([]) == ""


def test_single_tokens_for_suggestions_and_inspector_columns():
    assert [display_token(t) for t in ["N", "<unk>", "<eos>", "market"]] == ["[number]", "[rare word]", ".", "market"]


def test_displayed_text_pasted_back_reads_as_the_tokens_it_came_from():
    vocab = Vocab(["<unk>", "<eos>", "N", "the", "company", "'s", "$", "million", "rose"])
    tokens = ["the", "company", "'s", "$", "N", "million", "<eos>", "the", "company", "rose", "N"]
    assert tokenize(to_model_text(detokenize(tokens)), vocab) == tokens


def test_vocabulary_note_names_the_corpus():
    assert vocabulary_note("ptb", 10000).startswith("Vocabulary: 10,000 lower-case Wall Street Journal words")
    assert "Shakespeare" in vocabulary_note("shakespeare", 9000)
    assert "(my-notes)" in vocabulary_note("my-notes", 500)
    assert "Wikipedia" in vocabulary_note("wiki", 22889) and "CC BY-SA" in vocabulary_note("wiki", None)
