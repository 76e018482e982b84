"""Scores with sacreBLEU (never hand-written BLEU): corpus BLEU (13a tokenisation, cased, on detokenised text),
chrF, and BLEU by source length, the figure that shows what attention is for."""
from __future__ import annotations

import time

import sacrebleu

LENGTH_BUCKETS = ((1, 9), (10, 14), (15, 19), (20, 24), (25, 1000))   # English words, inclusive


def score(hypotheses: list[str], references: list[str]) -> dict:
    """{"bleu", "chrf", "n_sentences", "bleu_signature", "chrf_signature"} of detokenised, cased text."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    b = bleu.corpus_score(hypotheses, [references])
    c = chrf.corpus_score(hypotheses, [references])
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "n_sentences": len(hypotheses),
            "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature())}


def bleu_by_length(sources: list[str], hypotheses: list[str], references: list[str]) -> list[dict]:
    """Corpus BLEU of each source-length bucket: [{"words": "10-14", "n", "bleu"}]."""
    rows = []
    for low, high in LENGTH_BUCKETS:
        index = [i for i, s in enumerate(sources) if low <= len(s.split()) <= high]
        if not index:
            continue
        b = sacrebleu.metrics.BLEU().corpus_score([hypotheses[i] for i in index], [[references[i] for i in index]])
        label = f"{low}-{high}" if high < 1000 else f"{low}+"
        rows.append({"words": label, "n": len(index), "bleu": round(b.score, 2)})
    return rows


def evaluate(translate, sources: list[str], references: list[str]) -> dict:
    """``translate(sentence) -> str`` over the sources -> score() + seconds_per_sentence + by_length."""
    started = time.perf_counter()
    hypotheses = [translate(s) for s in sources]
    seconds = (time.perf_counter() - started) / max(1, len(sources))
    return {**score(hypotheses, references), "seconds_per_sentence": round(seconds, 4),
            "by_length": bleu_by_length(sources, hypotheses, references), "hypotheses": hypotheses}


def score_length_exponents(translator, sources: list[str], references: list[str], alphas: list[float],
                           beam: int | None = None) -> list[dict]:
    """Each length exponent in turn on a Translator -> [{"length_alpha", "bleu", "chrf"}] in the order given;
    the translator keeps its own exponent. Choose on val: a test split only scores the choice."""
    own, rows = translator.decode, []
    try:
        for alpha in alphas:
            translator.decode = {**own, "length_alpha": alpha}
            metrics = score([translator.translate(s, beam=beam)["translation"] for s in sources], references)
            rows.append({"length_alpha": alpha, "bleu": metrics["bleu"], "chrf": metrics["chrf"]})
    finally:
        translator.decode = own
    return rows
