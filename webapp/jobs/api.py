"""Small helpers for the JSON API: parse a body, answer with a clear error."""
import json   # the json module reads request bodies: it accepts NaN, which the fields then refuse by name

from webapp.core.json import JsonResponse


class ApiError(Exception):
    def __init__(self, message, status=400, field=None):
        super().__init__(message)
        self.message, self.status, self.field = message, status, field

    def response(self):
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return JsonResponse(body, status=self.status)


def json_body(request, max_bytes=16 * 1024):
    if len(request.body) > max_bytes:
        raise ApiError(f"Request body is larger than {max_bytes} bytes.", status=413)
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("Request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError("Request body must be a JSON object.")
    return data


def job_payload(job, request=None):
    url = f"/api/jobs/{job.id}"
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "url": request.build_absolute_uri(url) if request else url,
        "result": job.result,
        "progress": job.progress,
        "error": job.error or None,
        "attempts": job.attempts,
        "model_version": job.model_version.as_dict() if job.model_version_id else None,
        "timings": job.timings(),
    }


def first_error(form):
    """(field, message) of a form's first problem, for a JSON error body."""
    for field, errors in form.errors.items():
        return (None if field == "__all__" else field), errors[0]
    return None, "Invalid input."


def job_response(job, request, answer):
    """The answer to a demo request whose job was waited for: 200 with ``answer(job, request)`` when it succeeded,
    422 with the error when it failed, 202 with the job to poll while it runs."""
    if job.status == job.Status.FAILED:
        return JsonResponse({"error": job.error, "job": job_payload(job, request)}, status=422)
    if not job.is_finished:
        return JsonResponse(job_payload(job, request), status=202)
    return JsonResponse(answer(job, request))


def ensure_session(request):
    """Give a page visitor a session, so the jobs they start show in their history."""
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def rate_limited(group):
    """Per-client (IP) limit from settings.RATE_LIMITS[group]; over it, a 429 with Retry-After."""
    import functools

    from django.conf import settings
    from django_ratelimit.core import is_ratelimited

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            rate = settings.RATE_LIMITS[group]
            if is_ratelimited(request, group=f"unroll.{group}", key="ip", rate=rate, method=is_ratelimited.ALL,
                              increment=True):
                count, period = rate.split("/")
                response = JsonResponse({"error": f"Too many requests: the limit is {count} per "
                                                  f"{ {'s': 'second', 'm': 'minute', 'h': 'hour'}.get(period, period)}"
                                                  " for each client. Wait a moment and try again."}, status=429)
                response["Retry-After"] = "60" if period == "m" else "1" if period == "s" else "3600"
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
