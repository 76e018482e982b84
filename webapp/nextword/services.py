"""Turn a prompt into a job on the active language model, and a job into a stored result."""
from webapp.jobs import services as jobs
from webapp.registry.loader import ModelUnavailable, get_model
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version

WAIT_SECONDS = 5


def request(kind, params, *, version=None, owner=None, session_key="", wait=WAIT_SECONDS):
    """Queue a next-word job on the slot's active version; wait briefly for a fast result."""
    version = version or active_version(ModelVersion.Kind.LANGUAGE_MODEL, params["model"])
    if version is None:
        raise jobs.JobError(f"No active language model for '{params['model']}'.")
    job = jobs.create_job(kind, params, owner=owner, session_key=session_key, model_version=version)
    return jobs.wait_for_job(job, wait) if wait else job


def _predictor(job):
    if job.model_version_id is None:
        raise jobs.JobError("This job names no model version.")
    try:
        return get_model(job.model_version)
    except ModelUnavailable as exc:
        raise jobs.JobError(str(exc)) from None


def _model_info(job):
    return {"slot": job.model_version.slot, "label": job.model_version.label, "version": job.model_version.version}


def suggest(job, ctx):
    """Worker: top-k next words with probabilities."""
    params = job.input
    try:
        words = _predictor(job).suggest(params["text"], k=params["k"])
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return {"suggestions": words, "model": _model_info(job)}


def sample(job, ctx):
    """Worker: a sampled continuation."""
    params = job.input
    try:
        words = _predictor(job).sample(params["text"], n_words=params["words"], temperature=params["temperature"],
                                       top_k=params["top_k"], seed=params.get("seed"))
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return {"prompt": params["text"], "continuation": words, "model": _model_info(job)}


def inspect(job, ctx):
    """Worker: per-token gate activations and hidden-state norms."""
    try:
        report = _predictor(job).inspect(job.input["text"])
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return {**report, "model": _model_info(job)}


