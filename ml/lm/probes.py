"""Long-range probes: does the model use a word >= 10 tokens back?

Each probe (ml/lm/data/probes_<corpus>.json) has a prompt, the answer, the distant cue word and a
contrast prompt with the cue swapped. For each model we report the answer's rank among all
non-special words (1 = top suggestion), its probability, and the lift
``log p(answer | prompt) - log p(answer | contrast)`` (nats; > 0 means the distant cue helped);
the summary has top-1/5/10 hit rates, the mean rank and the mean lift.

    .venv/bin/python -m ml.lm.probes models/lm-ptb-lstm [--record]
    .venv/bin/python -m ml.lm.probes models/lm-wiki-lstm models/lm-wiki-rnn --probes ml/lm/data/probes_wiki.json --json

Reading probe sets needs no torch (the web page lists them); scoring imports the predictor when it runs.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from .detokenize import display_token
from .tokenizer import tokenize

DATA = Path(__file__).resolve().parent / "data"


def probe_file(corpus: str) -> Path:
    """The corpus's own probe set (ptb, shakespeare, wiki); PTB's for any other corpus."""
    own = DATA / f"probes_{corpus}.json"
    return own if corpus in ("ptb", "shakespeare", "wiki") and own.is_file() else DATA / "probes_ptb.json"


def load_probes(corpus: str = "ptb", path: str | Path | None = None) -> list[dict]:
    return json.loads(Path(path or probe_file(corpus)).read_text(encoding="utf-8"))["probes"]


def cue_distance(probe: dict) -> int:
    """Tokens between the last occurrence of the cue and the blank (1 = the last prompt token)."""
    toks = tokenize(probe["prompt"])
    cue = tokenize(probe["cue"])[0]
    return len(toks) - max(i for i, t in enumerate(toks) if t == cue)


def _rank_prob(p, prompt: str, answer: str) -> tuple[int, float, str]:
    """-> (rank of ``answer`` among non-special words, its log-probability, the top word as shown)."""
    logp = p.next_log_probs(prompt).clone()
    logp[p.special_ids] = -math.inf
    a = p.vocab.stoi[answer]
    return int((logp > logp[a]).sum()) + 1, float(logp[a]), display_token(p.vocab.shown(p.vocab.itos[int(logp.argmax())]))


def score(p, probes: list[dict]) -> dict:
    """``p``: an ml.lm.predictor.NextWordPredictor.
    -> {"probes": [{id, answer, distance, rank, prob, lift}], "summary": {...}}; probes whose answer is
    not in the model's vocab are skipped and counted."""
    rows, skipped = [], 0
    for pr in probes:
        if pr["answer"] not in p.vocab:
            skipped += 1
            continue
        rank, lp, top = _rank_prob(p, pr["prompt"], pr["answer"])
        row = {"id": pr["id"], "answer": pr["answer"], "distance": cue_distance(pr), "rank": rank,
               "prob": round(math.exp(lp), 5), "top": top}
        if pr.get("contrast"):
            _, lpc, _ = _rank_prob(p, pr["contrast"], pr["answer"])
            row["lift"] = round(lp - lpc, 3)
        rows.append(row)
    ranks = [r["rank"] for r in rows]
    lifts = [r["lift"] for r in rows if "lift" in r]
    summary = {
        "n": len(rows), "skipped": skipped,
        "top1": sum(r == 1 for r in ranks) / max(len(ranks), 1),
        "top5": sum(r <= 5 for r in ranks) / max(len(ranks), 1),
        "top10": sum(r <= 10 for r in ranks) / max(len(ranks), 1),
        "mean_rank": round(statistics.fmean(ranks), 1) if ranks else None,
        "mrr": round(statistics.fmean(1 / r for r in ranks), 4) if ranks else None,
        "median_rank": statistics.median(ranks) if ranks else None,
        "mean_prob": round(statistics.fmean(r["prob"] for r in rows), 4) if rows else None,
        "mean_lift_nats": round(statistics.fmean(lifts), 3) if lifts else None,
        "lift_positive": sum(x > 0 for x in lifts) / max(len(lifts), 1),
    }
    return {"probes": rows, "summary": summary}


def score_dir(model_dir: str | Path, record: bool = False, probes: str | Path | None = None) -> dict:
    """Scores of one model directory on ``probes`` (a probe file; default: its corpus's own)."""
    from .predictor import NextWordPredictor

    p = NextWordPredictor.from_dir(model_dir)
    path = Path(probes or probe_file(p.config.get("corpus", "ptb")))
    result = {**score(p, load_probes(path=path)), "probe_set": path.stem.removeprefix("probes_")}
    if record:
        mpath = Path(model_dir) / "metrics.json"
        metrics = json.loads(mpath.read_text()) if mpath.exists() else {}
        metrics["probes"] = result
        mpath.write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dirs", nargs="+")
    ap.add_argument("--record", action="store_true", help="store the scores in each model's metrics.json")
    ap.add_argument("--probes", help="probe file (default: each model's corpus's own, ml/lm/data/probes_*.json)")
    ap.add_argument("--json", action="store_true", help="print one JSON object {model_dir: {summary, probes}}")
    args = ap.parse_args()
    results = {d: score_dir(d, args.record, args.probes) for d in args.model_dirs}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for d, r in results.items():
        print(d, json.dumps(r["summary"]))
        for row in r["probes"]:
            print("   ", json.dumps(row))


if __name__ == "__main__":
    main()
