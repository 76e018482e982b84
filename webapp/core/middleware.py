"""Guards that turn infrastructure trouble into clear answers instead of 500s."""
import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

from .errors import error_response

logger = logging.getLogger(__name__)


def too_large_message(size_bytes, what="file", limit_mb=None):
    """The one wording of the upload limit, shared by this guard, the caption form and caption.js."""
    return f"The {what} is {size_bytes / 1_048_576:.1f} MB; the limit is {limit_mb or settings.MAX_UPLOAD_MB} MB."


def body_limit(request):
    """(largest body in bytes, the upload limit in MB to name): staff's dataset uploads in the admin may be
    larger than a visitor's photo."""
    if request.path.startswith(settings.DATASET_UPLOAD_PATH):
        mb = settings.MAX_DATASET_UPLOAD_MB
        return mb * 1_048_576 + settings.UPLOAD_FRAMING_BYTES, mb
    return settings.MAX_REQUEST_BYTES, settings.MAX_UPLOAD_MB


class RequestSizeLimitMiddleware:
    """Refuse an oversized body from its Content-Length, before Django reads or spools any of it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit, limit_mb = body_limit(request)
        if length > limit:
            # The body is the file plus a little framing: name the upload limit, not the framing allowance.
            what = "file" if request.content_type == "multipart/form-data" else "request"
            return error_response(request, 413, too_large_message(length, what, limit_mb))
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """While the database is down, answer 503 with a reason; connections are re-opened on the next request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)) or (
                isinstance(exception, DatabaseError) and "connection" in str(exception).lower()):
            logger.warning("database unavailable: %s", exception)
            for conn in connections.all():
                conn.close_if_unusable_or_obsolete()
            response = error_response(request, 503, "The database is unavailable right now; try again in a moment.")
            response["Retry-After"] = "5"
            return response
        return None
