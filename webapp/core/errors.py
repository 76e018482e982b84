"""Error answers a visitor or a client can use: friendly pages for people, JSON for every /api/ path.

`make run` is what a teacher puts on a classroom server, so DEBUG is off there and these handlers answer
instead of Django's debug pages (which list every URL pattern and setting).
"""
import logging

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

TITLES = {
    400: ("Bad request", "The server could not understand that request."),
    403: ("Not allowed", "You do not have permission to see this page."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "The request is larger than this server accepts."),
    500: ("Something went wrong", "The server hit an error it did not expect. It has been logged; try again in a "
                                  "moment."),
    503: ("Unavailable for a moment", "A service this page needs is not answering; try again in a moment."),
}


def wants_json(request):
    return request.path.startswith("/api/") or request.path == "/healthz" or \
        "application/json" in request.headers.get("Accept", "")


def error_body(status, request, allow=""):
    title, detail = TITLES.get(status, ("Error", "The request failed."))
    if status == 404:
        detail = f"Not found: nothing at {request.path}."
    elif status == 405 and allow:
        detail = f"{request.method} is not allowed on {request.path}; use {allow}."
    return {"error": detail, "status": status}


def _page(request, status, template, detail):
    title = TITLES[status][0]
    try:
        return render(request, template, {"status": status, "title": title, "detail": detail}, status=status)
    except Exception as exc:  # the error page must never raise an error of its own (the database may be down)
        logger.warning("error page %s could not be rendered: %s", template, exc)
        return HttpResponse(f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{detail}</p>"
                            '<p><a href="/">Unroll home</a></p>', status=status)


def error_response(request, status, message):
    """A refusal with its reason: `{"error": message}` for the API, the friendly error page for people."""
    if wants_json(request):
        return JsonResponse({"error": message}, status=status)
    return _page(request, status, "error.html", message)


def _answer(request, status, template):
    if wants_json(request):
        return JsonResponse(error_body(status, request), status=status)
    return _page(request, status, template, TITLES[status][1])


def bad_request(request, exception=None):
    return _answer(request, 400, "error.html")


def permission_denied(request, exception=None):
    return _answer(request, 403, "error.html")


def page_not_found(request, exception=None):
    return _answer(request, 404, "404.html")


def server_error(request):
    return _answer(request, 500, "500.html")


class ApiErrorsAsJsonMiddleware:
    """Every /api/ answer is JSON: Django's own plain error responses (405 from require_POST, 403 from CSRF, …)
    are replaced with `{"error", "status"}` bodies, keeping their status and headers such as Allow."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith("/api/") and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            body = error_body(response.status_code, request, response.get("Allow", ""))
            replacement = JsonResponse(body, status=response.status_code)
            for header in ("Allow", "Retry-After"):
                if response.has_header(header):
                    replacement[header] = response[header]
            return replacement
        return response
