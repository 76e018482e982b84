from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webapp.jobs.api import (ApiError, ensure_session, first_error, job_payload, job_response, json_body,
                             rate_limited)
from webapp.jobs.models import Job
from webapp.jobs.services import JobError

from . import forms, pages, services


def page(request):
    ensure_session(request)
    return render(request, "translate/page.html", {
        "models": pages.models(), "examples": pages.EXAMPLES, "failures": pages.FAILURES,
        "max_chars": forms.MAX_TEXT_CHARS,
        "targets": forms.TARGETS})


def result(request, job_id):
    """A translation's permalink: the sentence, the translation, the n-best list and the attention."""
    job = get_object_or_404(Job.objects.select_related("model_version"), pk=job_id, kind=Job.Kind.TRANSLATE)
    return render(request, "translate/result.html", {"job": job, "result": job.result or {}})


FIELD_TYPES = {"text": str, "source": str, "target": str, "model": str}


@csrf_exempt  # a plain HTTP client may call the API; abuse is bounded by limits, not CSRF
@require_POST
@rate_limited("translate")
def translate_api(request):
    try:
        data = json_body(request)
        for field, kind in FIELD_TYPES.items():
            if data.get(field) is not None and not isinstance(data[field], kind):
                raise ApiError(f"{field.capitalize()}: must be a string.", field=field)
        if isinstance(data.get("beam"), (bool, float, str, list, dict)):
            raise ApiError("Beam: must be a whole number between 1 and 10.", field="beam")
        form = forms.TranslateForm(data)
        if not form.is_valid():
            field, message = first_error(form)
            raise ApiError(message, field=field)
        params = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
        job = services.request(params, version=form.version(), owner=request.user,
                               session_key=request.session.session_key or "")
    except ApiError as exc:
        return exc.response()
    except JobError as exc:
        return ApiError(str(exc), status=400, field="model").response()
    return job_response(job, request, _answer)


def _answer(job, request):
    return {"job_id": str(job.id), **job.result, "timings": job.timings(),
            "page_url": request.build_absolute_uri(reverse("translate:result", args=[job.pk]))}


@csrf_exempt
@require_POST
@rate_limited("translate")
def caption_translation_api(request, job_id):
    """Translate a finished caption into German or French: its own job, stored with the caption's result."""
    caption_job = get_object_or_404(Job, pk=job_id, kind=Job.Kind.CAPTION)
    try:
        data = json_body(request)
        target = data.get("target")
        if not isinstance(target, str) or target not in forms.TARGETS:
            raise ApiError("Target: choose 'de' (German) or 'fr' (French).", field="target")
        job = services.request_caption_translation(caption_job, target, owner=request.user,
                                                   session_key=request.session.session_key or "")
    except ApiError as exc:
        return exc.response()
    except JobError as exc:
        return ApiError(str(exc), status=400, field="target").response()
    body = job_payload(job, request)
    body["caption_url"] = request.build_absolute_uri(reverse("captions:result", args=[caption_job.pk]))
    return JsonResponse(body, status=200 if job.is_finished else 202)
