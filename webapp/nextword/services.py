"""Turn a prompt into a job on the active language model, and a job into a stored result."""
import json

from ml.lm.detokenize import detokenize, display_token, vocabulary_note  # pure Python: no torch in the web process
from webapp.jobs import result_cache
from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.jobs.runner import job_model
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version, resolve_path

WAIT_SECONDS = 5


def request(kind, params, *, version=None, owner=None, session_key="", wait=WAIT_SECONDS):
    """Queue a next-word job on the slot's active version; wait briefly for a fast result."""
    version = version or active_version(ModelVersion.Kind.LANGUAGE_MODEL, params["model"])
    if version is None:
        raise jobs.JobError(f"No active language model for '{params['model']}'.")
    job = jobs.create_job(kind, params, owner=owner, session_key=session_key, model_version=version)
    return jobs.wait_for_job(job, wait) if wait else job


def _model_info(job):
    return {"slot": job.model_version.slot, "label": job.model_version.label, "version": job.model_version.version}


def suggest(job, ctx):
    """Worker: top-k next words with probabilities (+ where an expected `target` word ranks, when asked)."""
    params = job.input
    predictor = job_model(job)
    try:
        if params.get("target"):  # the probe table: one forward pass gives both
            words, target = predictor.suggest_with_target(params["text"], params["k"], params["target"])
        else:
            words, target = predictor.suggest(params["text"], k=params["k"]), None
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return _suggestion_result(job, words, target)


def suggest_batch(batch):
    """Worker: suggest() for jobs of one model version in one forward pass (webapp/jobs/batching.py)."""
    predictor = job_model(batch[0])
    answers = predictor.suggest_many([job.input for job in batch])
    results = []
    for job, answer in zip(batch, answers):
        if isinstance(answer, ValueError):
            results.append(jobs.JobError(str(answer)))
            continue
        results.append(_suggestion_result(job, *answer))
    return results


def _suggestion_result(job, words, target):
    """What a suggestion job stores: the words to show, the model, and the target's rank when one was asked."""
    result = {"suggestions": [{**w, "display": display_token(w["word"])} for w in words], "model": _model_info(job)}
    if target is not None:
        result["target"] = target
    return result


def suggest_cache_key(job):
    return json.dumps([job.model_version_id, job.input["text"], job.input["k"], job.input.get("target")])


result_cache.register(Job.Kind.NEXT_WORD, suggest_cache_key)


def sample(job, ctx):
    """Worker: a sampled continuation."""
    params = job.input
    try:
        words = job_model(job).sample(params["text"], n_words=params["words"], temperature=params["temperature"],
                                      top_k=params["top_k"], seed=params.get("seed"))
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return {"prompt": params["text"], "continuation": words, "continuation_text": detokenize(words),
            "model": _model_info(job)}


def continuation_text(job):
    """What a finished sample job shows: its stored display text, or one made now for jobs from before it was kept."""
    result = job.result or {}
    return result.get("continuation_text") or detokenize(result.get("continuation") or [])


def inspect(job, ctx):
    """Worker: per-token gate activations and hidden-state norms."""
    try:
        report = job_model(job).inspect(job.input["text"])
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return {**report, "model": _model_info(job)}




CELL_ORDER = {"lstm": 0, "gru": 1, "rnn_tanh": 2, "rnn_relu": 3}  # the seed's comparison reads LSTM first


def seed_comparison(models, default_corpus):
    """The models the seed's example compares, LSTM first: the general-English (wiki) ones where installed, else
    those trained on the default model's corpus (the Penn Treebank ones, which cannot spell the answer)."""
    corpus = "wiki" if any(m["corpus"] == "wiki" for m in models) else default_corpus
    return sorted((m for m in models if m["corpus"] == corpus), key=lambda m: CELL_ORDER.get(m["cell"], 9))


# ---- what the page says about each model (read in the web process: JSON only, no torch) ----------------------

CELL_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "vanilla RNN", "rnn_relu": "vanilla RNN"}


def _checkpoint_config(version):
    """The config the worker will load (the checkpoint's own config.json), else the one stored at registration."""
    try:
        return json.loads((resolve_path(version) / "config.json").read_text())
    except (OSError, ValueError):
        return version.config or {}


def describe(version):
    """{"slot", "label", "cell", "cell_name", "corpus", "gates", "vocabulary"} for the model selector and the gate
    section."""
    config = _checkpoint_config(version)
    model = config.get("model") or {}
    cell = model.get("cell") or config.get("cell") or "lstm"
    return {"slot": version.slot, "label": version.label, "cell": cell, "cell_name": CELL_NAMES.get(cell, cell),
            "corpus": config.get("corpus") or "",
            "gates": "rnn" if cell.startswith("rnn") else cell,  # which explanation the gate section shows
            "vocabulary": vocabulary_note(config.get("corpus"), model.get("ntoken"))}
