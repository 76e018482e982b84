"""Turn a sentence into a translation job on the active model of its language pair, and a job into a result."""
from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.registry.loader import ModelUnavailable, get_model

WAIT_SECONDS = 5


def request(params, *, version, owner=None, session_key="", wait=WAIT_SECONDS):
    """Queue a translation job on ``version``; wait briefly for the (fast) result."""
    job = jobs.create_job(Job.Kind.TRANSLATE, params, owner=owner, session_key=session_key,
                          model_version=version)
    return jobs.wait_for_job(job, wait) if wait else job


def translate(job, ctx):
    """Worker: the translation, its n-best list and (for attention models) the attention matrix."""
    if job.model_version_id is None:
        raise jobs.JobError("This job names no model version.")
    try:
        translator = get_model(job.model_version)
        result = translator.translate(job.input["text"], beam=job.input.get("beam"))
    except ModelUnavailable as exc:
        raise jobs.JobError(str(exc)) from None
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    version = job.model_version
    return {**result, "source_text": job.input["text"], "source": job.input["source"], "target": job.input["target"],
            "beam": job.input.get("beam") or translator.decode["beam"],
            "model": {"slot": version.slot, "label": version.label, "version": version.version,
                      "attention": translator.has_attention}}
