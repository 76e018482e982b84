from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webapp.jobs.api import ApiError, ensure_session, job_payload, job_response, json_body, rate_limited
from webapp.jobs.models import Job
from webapp.jobs.services import JobError

from . import forms, probes, services


def page(request):
    ensure_session(request)
    form = forms.PromptForm()
    models = [services.describe(version) for version in form.versions.values()]
    selected = next((m for m in models if m["slot"] == form.default_model), None)
    seed_models = services.seed_comparison(models, selected["corpus"] if selected else "ptb")
    return render(request, "nextword/page.html", {
        "models": models,
        "default_model": form.default_model,
        "selected": selected,
        "probes": probes.examples(selected["corpus"] if selected else "ptb"),
        "seed": probes.seed_example() if seed_models else None,
        "seed_models": " ".join(m["slot"] for m in seed_models),
        "scores": probes.score_rows(form.versions.values(), services.describe),
        "max_chars": forms.MAX_PROMPT_CHARS,
    })


def result(request, job_id):
    """A sampled continuation's permalink: the prompt, the continuation and the settings that made it."""
    job = get_object_or_404(Job.objects.select_related("model_version"), pk=job_id, kind=Job.Kind.SAMPLE)
    return render(request, "nextword/result.html", {"job": job, "continuation": services.continuation_text(job)})


STRING_FIELDS = {"text": "Text", "target": "Target"}


def _run(request, form_class, kind, answer):
    try:
        data = json_body(request)
        for field, label in STRING_FIELDS.items():
            if data.get(field) is not None and not isinstance(data[field], str):
                raise ApiError(f"{label}: must be a string.", field=field)
        form = form_class(data)
        if not form.is_valid():
            field, message = forms.first_error(form)
            raise ApiError(message, field=field)
        params = {key: value for key, value in form.cleaned_data.items() if value is not None}
        job = services.request(kind, params, version=form.version(), owner=request.user,
                               session_key=request.session.session_key or "")
    except ApiError as exc:
        return exc.response()
    except JobError as exc:
        return ApiError(str(exc), status=400, field="model").response()
    return job_response(job, request, answer)


@csrf_exempt  # a plain HTTP client may call the API; abuse is bounded by limits, not CSRF
@require_POST
@rate_limited("suggest")
def suggest_api(request):
    return _run(request, forms.SuggestForm, Job.Kind.NEXT_WORD,
                lambda job, request: {"job_id": str(job.id), **job.result, "timings": job.timings()})


def _sample_answer(job, request):
    return {**job_payload(job, request),
            "page_url": request.build_absolute_uri(reverse("nextword:result", args=[job.pk]))}


@csrf_exempt
@require_POST
@rate_limited("sample")
def sample_api(request):
    return _run(request, forms.SampleForm, Job.Kind.SAMPLE, _sample_answer)


@csrf_exempt
@require_POST
@rate_limited("sample")
def inspect_api(request):
    return _run(request, forms.PromptForm, Job.Kind.INSPECT, job_payload)
