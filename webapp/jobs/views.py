from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from webapp.core.json import JsonResponse

from . import services
from .api import ApiError, job_payload, json_body
from .models import Job

MAX_MESSAGE_CHARS = 200
MAX_LONG_POLL_SECONDS = 30


@require_GET
def job_detail_api(request, job_id):
    """The job; with ?wait=S (0-30 s), answered as soon as it finishes or S seconds pass (long polling: a client
    learns of the result at once, without a request every few hundred milliseconds)."""
    try:
        wait = float(request.GET.get("wait") or 0)
    except ValueError:
        wait = -1
    if not 0 <= wait <= MAX_LONG_POLL_SECONDS:
        return ApiError(f"'wait' must be a number of seconds between 0 and {MAX_LONG_POLL_SECONDS}.",
                        field="wait").response()
    jobs = Job.objects.select_related("model_version")
    if not wait:
        return JsonResponse(job_payload(get_object_or_404(jobs, pk=job_id), request))
    try:  # listening starts before the one read of the row, so a completion in between is not missed
        job = services.wait_for_job(job_id, wait, queryset=jobs)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    return JsonResponse(job_payload(job, request))


@csrf_exempt  # a plain HTTP client (curl, no cookie) may use the API; abuse is bounded by limits, not CSRF
@require_POST
def diagnostic_api(request):
    """Send a message through broker -> worker -> database and back: proves the pipeline works."""
    try:
        data = json_body(request)
        message = data.get("message", "")
        if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
            raise ApiError(f"'message' must be a string of at most {MAX_MESSAGE_CHARS} characters.", field="message")
        wait = data.get("wait", 0)
        if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait <= 5:
            raise ApiError("'wait' must be a number of seconds between 0 and 5.", field="wait")
    except ApiError as exc:
        return exc.response()
    job = services.create_job(Job.Kind.DIAGNOSTIC, {"message": message}, owner=request.user,
                              session_key=request.session.session_key or "")
    if wait:
        job = services.wait_for_job(job, wait)
    return JsonResponse(job_payload(job, request), status=200 if job.is_finished else 202)



HISTORY_KINDS = (Job.Kind.CAPTION, Job.Kind.SAMPLE, Job.Kind.LAB)


def history(request):
    """Recent results with permalinks: a visitor sees their own, staff see everyone's."""
    jobs = Job.objects.filter(kind__in=HISTORY_KINDS).select_related("model_version")
    if not request.user.is_staff:
        mine = Q(session_key=request.session.session_key) if request.session.session_key else Q(pk__in=[])
        if request.user.is_authenticated:
            mine |= Q(owner=request.user)
        jobs = jobs.filter(mine)
    page = Paginator(jobs.order_by("-queued_at"), 20).get_page(request.GET.get("page"))
    return render(request, "jobs/history.html", {"page": page, "everyone": request.user.is_staff})
