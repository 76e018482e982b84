from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webapp.jobs.api import ApiError, ensure_session, first_error, job_payload, job_response, json_body, rate_limited
from webapp.jobs.models import Job
from webapp.jobs.services import JobError

from . import forms, pages, services

MAX_BODY_BYTES = 2 * 1024 * 1024        # 100,000 numbers as JSON


def page(request):
    ensure_session(request)
    return render(request, "forecast/page.html", {
        "series": pages.series_rows(), "cells": forms.CELLS, "names": pages.METHOD_NAMES})


def result(request, job_id):
    """A forecast's permalink: the chart, the backtest table and the verdict (or the live progress of training)."""
    job = get_object_or_404(Job.objects.select_related("model_version"), pk=job_id, kind=Job.Kind.FORECAST)
    return render(request, "forecast/result.html", {"job": job, "result": job.result or {},
                                                    "names": pages.METHOD_NAMES})


@require_POST
@rate_limited("forecast_train")
def upload(request):
    """The page's CSV form: a bad file is shown again with the reason and makes no job; a good one trains."""
    form = forms.UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        field, message = first_error(form)
        return JsonResponse({"error": message, "field": field or "file"}, status=400)
    job = services.request(form.params(), upload=request.FILES["file"], owner=request.user,
                           session_key=ensure_session(request))
    return JsonResponse({**job_payload(job, request), "page_url": reverse("forecast:result", args=[job.pk])},
                        status=202)


@csrf_exempt  # a plain HTTP client may call the API; abuse is bounded by limits, not CSRF
@require_POST
@rate_limited("forecast")
def forecast_api(request):
    try:
        data = json_body(request, max_bytes=MAX_BODY_BYTES)
        for field in ("series", "cell"):
            if data.get(field) is not None and not isinstance(data[field], str):
                raise ApiError(f"{field.capitalize()}: must be a string.", field=field)
        if isinstance(data.get("horizon"), (bool, float, str, list, dict)):
            raise ApiError("Horizon: must be a whole number between 1 and 365.", field="horizon")
        values = data.get("values")
        if (values is None) == (data.get("series") is None):
            raise ApiError("Series: give a built-in series name or a list of values, one of them.", field="series")
        form = forms.ForecastForm({**data, "series": data.get("series") or "co2"})
        if not form.is_valid():
            field, message = first_error(form)
            raise ApiError(message, field=field)
        params, upload = form.params(), None
        if values is not None:
            try:
                values = forms.clean_values(values, params["horizon"])
            except forms.forms.ValidationError as exc:
                raise ApiError(exc.messages[0], field="values") from None
            params = {"horizon": params["horizon"], "cell": params["cell"], "name": "values", "n": len(values)}
            upload = services.values_file(values)
        job = services.request(params, upload=upload, owner=request.user,
                               session_key=request.session.session_key or "")
    except ApiError as exc:
        return exc.response()
    except JobError as exc:
        return ApiError(str(exc), field="horizon").response()
    if job.input.get("mode") == "train":
        return JsonResponse({**job_payload(job, request), "page_url": _page_url(job, request)}, status=202)
    return job_response(job, request, _answer)


def _page_url(job, request):
    return request.build_absolute_uri(reverse("forecast:result", args=[job.pk]))


def _answer(job, request):
    return {"job_id": str(job.id), **job.result, "timings": job.timings(), "page_url": _page_url(job, request)}
