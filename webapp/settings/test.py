"""pytest: fast hashing, isolated media, the same database switch as everywhere."""
import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F401,F403

SECRET_KEY = "test-only-key"
# Training runs and exported models of the tests go to a scratch folder shared with the test workers.
VAR_DIR = Path(os.environ.get("UNROLL_TEST_VAR_DIR") or tempfile.mkdtemp(prefix="unroll-var-"))
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or tempfile.mkdtemp(prefix="unroll-media-"))
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="unroll-static-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The integration tests' Celery workers are separate processes: they need an on-disk test database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"unroll-test-{os.getpid()}.sqlite3")}  # noqa: F405

# Short recovery timings so the kill tests finish quickly; the workers the tests start inherit these.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "0.5"))
JOB_STALE_SECONDS = float(os.environ.get("JOB_STALE_SECONDS", "4"))
JOB_SWEEP_SECONDS = float(os.environ.get("JOB_SWEEP_SECONDS", "1"))
