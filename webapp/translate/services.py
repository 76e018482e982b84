"""Turn a sentence into a translation job on the active model of its language pair, and a job into a result."""
from django.db import transaction

from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.jobs.runner import job_model
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version

from .forms import TARGETS

WAIT_SECONDS = 5


def request(params, *, version, owner=None, session_key="", wait=WAIT_SECONDS):
    """Queue a translation job on ``version``; wait briefly for the (fast) result."""
    job = jobs.create_job(Job.Kind.TRANSLATE, params, owner=owner, session_key=session_key,
                          model_version=version)
    return jobs.wait_for_job(job, wait) if wait else job


def translate(job, ctx):
    """Worker: the translation, its n-best list and (for attention models) the attention matrix."""
    translator = job_model(job)
    try:
        result = translator.translate(job.input["text"], beam=job.input.get("beam"))
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    return _stored(job, translator, result)


def translate_batch(batch):
    """Worker: translate() for jobs of one model version, one batched beam search per beam size."""
    translator = job_model(batch[0])
    answers = {}
    for beam in {job.input.get("beam") for job in batch}:
        group = [job for job in batch if job.input.get("beam") == beam]
        for job, result in zip(group, translator.translate_many([job.input["text"] for job in group], beam=beam)):
            answers[job.pk] = jobs.JobError(str(result)) if isinstance(result, ValueError) else \
                _stored(job, translator, result)
    return [answers[job.pk] for job in batch]


def _stored(job, translator, result):
    """The job's result: the translation with its request and model (and, for a caption's translation, a copy
    stored with the caption)."""
    version = job.model_version
    if job.input.get("caption_job"):
        store_caption_translation(job, result)
    return {**result, "source_text": job.input["text"], "source": job.input["source"], "target": job.input["target"],
            "beam": job.input.get("beam") or translator.decode["beam"],
            "model": {"slot": version.slot, "label": version.label, "version": version.version,
                      "attention": translator.has_attention}}


# ---- captions in three languages: a translation job after the caption job, stored with the caption ---------------

def caption_sentence(caption_job):
    """The caption as the translators' training text reads: a capital first letter and a full stop."""
    text = " ".join((caption_job.result or {}).get("caption", "").split())
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def caption_targets():
    """{code: name} of the languages a caption can be translated into now (an attention model is installed)."""
    return {code: name for code, name in TARGETS.items()
            if active_version(ModelVersion.Kind.TRANSLATOR, f"en-{code}") is not None}


def request_caption_translation(caption_job, target, *, owner=None, session_key="", wait=WAIT_SECONDS):
    """Queue the translation of a finished caption into ``target`` (its own job, stored with the caption)."""
    if caption_job.status != Job.Status.SUCCEEDED:
        raise jobs.JobError("This caption has not finished yet; translate it once it has.")
    version = active_version(ModelVersion.Kind.TRANSLATOR, f"en-{target}")
    if version is None:
        raise jobs.JobError(f"No translation model for en-{target} is installed.")
    params = {"text": caption_sentence(caption_job), "source": "en", "target": target,
              "model": version.slot, "caption_job": str(caption_job.pk)}
    return request(params, version=version, owner=owner, session_key=session_key, wait=wait)


def store_caption_translation(job, result):
    """Worker: add the translation to its caption job's result under ``translations[target]``. Row-locked: the
    German and French jobs of one caption may finish at the same moment."""
    with transaction.atomic():
        caption_job = Job.objects.select_for_update().filter(pk=job.input["caption_job"]).first()
        if caption_job is None or caption_job.result is None:
            return
        translations = dict(caption_job.result.get("translations") or {})
        translations[job.input["target"]] = {"text": result["translation"], "job_id": str(job.pk),
                                             "model": {"label": job.model_version.label,
                                                       "version": job.model_version.version}}
        caption_job.result = {**caption_job.result, "translations": translations}
        caption_job.save(update_fields=["result"])
