from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webapp.jobs.api import ApiError, ensure_session, job_payload, json_body, rate_limited
from webapp.jobs.models import Job

from . import forms, services


def _page_context(request, job=None):
    payload = None
    if job is not None:
        payload = job_payload(job, request)
        payload["page_url"] = request.build_absolute_uri(reverse("lab:result", args=[job.pk]))
        payload["input"] = job.input
    factor, measured_runs = services.speed_factor()
    return {
        "job": job,
        "lab_settings": {
            "presets": forms.PRESETS, "defaults": forms.DEFAULTS, "limits": forms.LIMITS,
            "cells": dict(forms.CELLS), "hidden_sizes": forms.HIDDEN_SIZES, "default_lr": forms.DEFAULT_LR,
            "cost": {"cell": forms.CELL_COST, "seconds_per_work": forms.SECONDS_PER_WORK, "lead": forms.LEAD,
                     "max_seconds": forms.MAX_SECONDS, "speed_factor": factor, "measured_runs": measured_runs},
            "api_url": reverse("lab:api-create"),
            "job": payload,
        },
        "presets": forms.PRESETS,
        "cells": forms.CELLS,
        "hidden_sizes": forms.HIDDEN_SIZES,
        "defaults": forms.DEFAULTS,
        "limits": forms.LIMITS,
    }


def page(request):
    ensure_session(request)
    return render(request, "lab/page.html", _page_context(request))


def result(request, job_id):
    """Permalink of one experiment: the same page, drawing the stored result (or following the running job)."""
    ensure_session(request)
    job = get_object_or_404(Job, pk=job_id, kind=Job.Kind.LAB)
    return render(request, "lab/page.html", _page_context(request, job))


@csrf_exempt  # a plain HTTP client may call the API; abuse is bounded by limits, not CSRF
@require_POST
@rate_limited("lab")  # per client IP (settings.RATE_LIMITS); services also caps unfinished experiments
def experiments_api(request):
    """JSON settings (any subset; "preset" names a starting point) -> 202 with the job to follow."""
    try:
        data = json_body(request)
        form = forms.ExperimentForm(data)
        if not form.is_valid():
            field, message = forms.first_error(form)
            raise ApiError(message, field=field)
        job = services.request_experiment(form.config, preset=form.cleaned_data.get("preset") or "",
                                          estimated_seconds=form.estimated_seconds, owner=request.user,
                                          session_key=request.session.session_key or "")
    except ApiError as exc:
        return exc.response()
    except services.LabBusy as exc:
        return ApiError(str(exc), status=429).response()
    body = job_payload(job, request)
    body["page_url"] = request.build_absolute_uri(reverse("lab:result", args=[job.pk]))
    body["estimated_seconds"] = form.estimated_seconds
    return JsonResponse(body, status=202)
