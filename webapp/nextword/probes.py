"""The long-range probes as the page shows them: prompts to try and each model's recorded scores.

Read as plain data (the web process never imports torch): the probe sets live in ml/lm/data/probes_<corpus>.json,
and ``python -m ml.lm.probes MODEL_DIR --record`` stores a model's scores in its metrics.json.
"""
import functools

from ml.lm.detokenize import detokenize
from ml.lm.probes import load_probes
from webapp.registry.services import version_json

MISS_RANK = 10               # a probe whose answer ranks below the top 10 is listed as a miss
# The example the course notes give. Its button is on the page whatever models are installed: a model that cannot
# spell the answer says so, which is the honest answer for the Penn Treebank models.
SEED_PROMPT = "i am from nepal . i went to school there and worked in a shop for two years . i can speak"
SEED_ANSWER = "nepali"


@functools.lru_cache(maxsize=8)
def _probe_set(corpus):
    try:
        return load_probes(corpus)
    except (OSError, ValueError, KeyError):
        return []


def _shown(probe):
    """A probe as the page writes it: PTB prompts are lower-case tokens with numbers as a placeholder."""
    return {"id": probe["id"], "prompt": detokenize(probe["prompt"].split()), "answer": probe["answer"]}


def examples(corpus, limit=8):
    """The first probes of ``corpus``'s own set (the seed's example apart: it has its own button)."""
    return [_shown(p) for p in _probe_set(corpus) if p["prompt"] != SEED_PROMPT][:limit]


def seed_example():
    return {"prompt": detokenize(SEED_PROMPT.split()), "answer": SEED_ANSWER}


def recorded_scores(version):
    """A version's stored probe results ({"summary", "probes", "probe_set"}), or None when it has none."""
    scores = version_json(version, "metrics.json").get("probes")
    return scores if isinstance(scores, dict) and scores.get("summary") else None


def score_rows(versions, describe):
    """One row per model with recorded scores, for the "can it?" table: the model's facts (``describe``) plus
    its probe set, hit rates, mean rank, mean lift and the seed example's rank."""
    rows = []
    for version in versions:
        scores = recorded_scores(version)
        if scores is None:
            continue
        prompts = {p["id"]: p for p in _probe_set(scores.get("probe_set") or "ptb")}
        seed = next((p for p in scores["probes"] if prompts.get(p["id"], {}).get("prompt") == SEED_PROMPT), None)
        misses = [{**_shown(prompts[p["id"]]), "rank": p["rank"], "top": p.get("top", "")}
                  for p in scores["probes"] if p["rank"] > MISS_RANK and p["id"] in prompts]
        rows.append({**describe(version), **scores["summary"], "probe_set": scores.get("probe_set", ""),
                     "seed_rank": seed["rank"] if seed else None, "misses": misses})
    return rows


def seed_claims():
    """What the home page may say about the seed's example: each active model's recorded rank of its answer,
    LSTM first. Empty when no installed model has the example in its probe set."""
    from webapp.registry.models import ModelVersion
    from webapp.registry.services import active_versions

    from . import services

    rows = [row for row in score_rows(active_versions(ModelVersion.Kind.LANGUAGE_MODEL), services.describe)
            if row["seed_rank"]]
    return sorted(rows, key=lambda row: services.CELL_ORDER.get(row["cell"], 9))
