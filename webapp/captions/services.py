"""Turn an upload into a caption job on the active captioner, and a job into a stored caption."""
import hashlib

from django.conf import settings

from webapp.jobs import result_cache
from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.jobs.runner import job_model
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version

SLOT = "flickr8k"


def request_caption(image_file, image_info, *, beam=3, owner=None, session_key=""):
    version = active_version(ModelVersion.Kind.CAPTIONER, SLOT)
    if version is None:
        raise jobs.JobError("No image captioner is installed yet.")
    return jobs.create_job(Job.Kind.CAPTION, {"beam": beam, "image": image_info}, input_file=image_file,
                           owner=owner, session_key=session_key, model_version=version)


def caption(job, ctx):
    """Worker: caption the stored (already validated and re-encoded) image."""
    captioner = job_model(job)
    try:
        result = captioner.caption(job.input_file.path, beam=job.input.get("beam", 3))
    except (OSError, ValueError) as exc:
        raise jobs.JobError(f"Could not caption this image: {exc}") from None
    return {**result, "model": {"label": job.model_version.label, "version": job.model_version.version}}


def caption_cache_key(job):
    """The photo's bytes (as stored, re-encoded by the web) with the beam and model version."""
    with job.input_file.open("rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return f"{job.model_version_id}:{job.input.get('beam', 3)}:{digest}"


result_cache.register(Job.Kind.CAPTION, caption_cache_key)


def image_url(job):
    return settings.MEDIA_URL + job.input_file.name if job.input_file else None
