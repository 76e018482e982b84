from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webapp.core.json import JsonResponse
from webapp.jobs import services as jobs
from webapp.jobs.api import ensure_session, job_payload, rate_limited
from webapp.jobs.models import Job

from . import samples, services
from .forms import CaptionForm
from .images import ACCEPTED_LABEL, MAX_PIXELS

MAX_WAIT_SECONDS = 10


def _page_context(form=None):
    return {"form": form or CaptionForm(), "samples": samples.available(), "accepted": ACCEPTED_LABEL,
            "max_mb": settings.MAX_UPLOAD_MB, "max_bytes": settings.MAX_UPLOAD_BYTES,
            "max_megapixels": MAX_PIXELS // 1_000_000}


def page(request):
    """The upload page; a plain form POST works without JavaScript too."""
    if request.method == "POST":
        return _page_post(request)
    ensure_session(request)
    return render(request, "captions/page.html", _page_context())


@rate_limited("caption")
def _page_post(request):
    form = CaptionForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = services.request_caption(form.normalised, form.image_info, beam=form.cleaned_data["beam"],
                                           owner=request.user, session_key=ensure_session(request))
        except jobs.JobError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("captions:result", job_id=job.pk)
    return render(request, "captions/page.html", _page_context(form), status=400)


def result(request, job_id):
    job = get_object_or_404(Job.objects.select_related("model_version"), pk=job_id, kind=Job.Kind.CAPTION)
    from webapp.translate.services import caption_targets

    translations = (job.result or {}).get("translations") or {}
    languages = [{"code": code, "name": name, "translation": translations.get(code)}
                 for code, name in caption_targets().items()]
    languages += [{"code": code, "name": code, "translation": t} for code, t in translations.items()
                  if code not in {lang["code"] for lang in languages}]   # stored, though its model is gone now
    return render(request, "captions/result.html", {"job": job, "payload": job_payload(job, request),
                                                    "languages": languages})


@cache_control(max_age=3600, private=True)
def image(request, job_id):
    """The stored upload: always the JPEG we re-encoded, never the visitor's original bytes."""
    job = get_object_or_404(Job, pk=job_id, kind=Job.Kind.CAPTION)
    if not job.input_file:
        raise Http404("no image")
    response = FileResponse(job.input_file.open("rb"), content_type="image/jpeg")
    response["Content-Disposition"] = "inline; filename=photo.jpg"
    return response


@csrf_exempt  # a plain HTTP client may call the API; abuse is bounded by limits, not CSRF
@require_POST
@rate_limited("caption")
def caption_api(request):
    """multipart `image` (+ optional `beam`, `wait` seconds) -> 202 with the job, or 200 if it finished in time."""
    form = CaptionForm(request.POST, request.FILES)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return JsonResponse({"error": errors[0], "field": field}, status=400)
    try:
        wait = float(request.POST.get("wait") or 0)
    except ValueError:
        wait = -1
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        return JsonResponse({"error": f"'wait' must be between 0 and {MAX_WAIT_SECONDS} seconds.", "field": "wait"},
                            status=400)
    try:
        job = services.request_caption(form.normalised, form.image_info, beam=form.cleaned_data["beam"],
                                       owner=request.user, session_key=request.session.session_key or "")
    except jobs.JobError as exc:
        return JsonResponse({"error": str(exc)}, status=503)
    if wait:
        job = jobs.wait_for_job(job, wait)
    body = job_payload(job, request)
    body["page_url"] = request.build_absolute_uri(reverse("captions:result", args=[job.pk]))
    return JsonResponse(body, status=200 if job.is_finished else 202)
