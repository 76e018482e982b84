"""Long-range probes: does the model use a word >= 10 tokens back?

Each probe (ml/lm/data/probes_<corpus>.json) has a prompt, the answer, the distant cue word and a
contrast prompt with the cue swapped. For each model we report the answer's rank among all
non-special words (1 = top suggestion), its probability, and the lift
``log p(answer | prompt) - log p(answer | contrast)`` (nats; > 0 means the distant cue helped).

    .venv/bin/python -m ml.lm.probes models/lm-ptb-lstm [--record]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from .predictor import NextWordPredictor
from .tokenizer import tokenize

DATA = Path(__file__).resolve().parent / "data"


def probe_file(corpus: str) -> Path:
    name = "shakespeare" if corpus == "shakespeare" else "ptb"
    return DATA / f"probes_{name}.json"


def load_probes(corpus: str = "ptb") -> list[dict]:
    return json.loads(probe_file(corpus).read_text(encoding="utf-8"))["probes"]


def cue_distance(probe: dict) -> int:
    """Tokens between the last occurrence of the cue and the blank (1 = the last prompt token)."""
    toks = tokenize(probe["prompt"])
    cue = tokenize(probe["cue"])[0]
    return len(toks) - max(i for i, t in enumerate(toks) if t == cue)


def _rank_prob(p: NextWordPredictor, prompt: str, answer: str) -> tuple[int, float]:
    logp = p.next_log_probs(prompt).clone()
    logp[p.special_ids] = -math.inf
    a = p.vocab.stoi[answer]
    return int((logp > logp[a]).sum()) + 1, float(logp[a])


def score(p: NextWordPredictor, probes: list[dict]) -> dict:
    """-> {"probes": [{id, answer, distance, rank, prob, lift}], "summary": {...}}; probes whose answer is
    not in the model's vocab are skipped and counted."""
    rows, skipped = [], 0
    for pr in probes:
        if pr["answer"] not in p.vocab:
            skipped += 1
            continue
        rank, lp = _rank_prob(p, pr["prompt"], pr["answer"])
        row = {"id": pr["id"], "answer": pr["answer"], "distance": cue_distance(pr), "rank": rank,
               "prob": round(math.exp(lp), 5)}
        if pr.get("contrast"):
            _, lpc = _rank_prob(p, pr["contrast"], pr["answer"])
            row["lift"] = round(lp - lpc, 3)
        rows.append(row)
    ranks = [r["rank"] for r in rows]
    lifts = [r["lift"] for r in rows if "lift" in r]
    summary = {
        "n": len(rows), "skipped": skipped,
        "top1": sum(r == 1 for r in ranks) / max(len(ranks), 1),
        "top10": sum(r <= 10 for r in ranks) / max(len(ranks), 1),
        "mrr": round(statistics.fmean(1 / r for r in ranks), 4) if ranks else None,
        "median_rank": statistics.median(ranks) if ranks else None,
        "mean_prob": round(statistics.fmean(r["prob"] for r in rows), 4) if rows else None,
        "mean_lift_nats": round(statistics.fmean(lifts), 3) if lifts else None,
        "lift_positive": sum(x > 0 for x in lifts) / max(len(lifts), 1),
    }
    return {"probes": rows, "summary": summary}


def score_dir(model_dir: str | Path, record: bool = False) -> dict:
    p = NextWordPredictor.from_dir(model_dir)
    result = score(p, load_probes(p.config.get("corpus", "ptb")))
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
    args = ap.parse_args()
    for d in args.model_dirs:
        r = score_dir(d, args.record)
        print(d, json.dumps(r["summary"]))
        for row in r["probes"]:
            print("   ", json.dumps(row))


if __name__ == "__main__":
    main()
