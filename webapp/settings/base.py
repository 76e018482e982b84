"""Settings shared by every environment. Everything that differs between machines comes from the environment."""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("UNROLL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "webapp.core",
    "webapp.jobs",
    "webapp.registry",
    "webapp.nextword",
    "webapp.captions",
    "webapp.translate",
    "webapp.forecast",
    "webapp.training",
    "webapp.lab",
]

MIDDLEWARE = [
    "webapp.core.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "webapp.core.middleware.DatabaseUnavailableMiddleware",
    "webapp.core.errors.ApiErrorsAsJsonMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.core.navigation.nav_links",
            ],
        },
    },
]

# PostgreSQL when DATABASE_URL is set, else SQLite under var/.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'unroll.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server and worker write concurrently: WAL and a busy timeout keep SQLite from "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "webapp.core.staticfinders.PackageFileFinder",  # plotly.min.js from the plotly package
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# Celery: Redis is the broker. No result backend: a job's outcome is its database row (webapp/jobs), and each
# send names its queue (webapp/jobs/kinds.py).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "inference"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120
# torch threads per worker process for inference; a training run sets its own (TrainConfig.threads).
WORKER_TORCH_THREADS = int(os.environ.get("WORKER_TORCH_THREADS", "1"))

# Redis is also the cache: rate-limit counters live there.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Per-client limits on the endpoints that make a worker do work ("count/period", django-ratelimit syntax).
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_FAIL_OPEN = True  # if Redis is briefly away, serve rather than fail every request
RATE_LIMITS = {
    "suggest": os.environ.get("RATE_LIMIT_SUGGEST", "600/m"),  # suggestions as you type: a burst per keystroke
    "sample": os.environ.get("RATE_LIMIT_SAMPLE", "60/m"),
    "caption": os.environ.get("RATE_LIMIT_CAPTION", "30/m"),
    "lab": os.environ.get("RATE_LIMIT_LAB", "10/m"),
    "translate": os.environ.get("RATE_LIMIT_TRANSLATE", "600/m"),  # translation as you type, like suggestions
    "forecast": os.environ.get("RATE_LIMIT_FORECAST", "120/m"),
    "forecast_train": os.environ.get("RATE_LIMIT_FORECAST_TRAIN", "10/m"),  # each trains a network for a minute
}
# Seconds a forecast job trains its network when no shipped model fits the request (an upload, another horizon or
# cell); the backtest and the forecast come after, so the whole job takes about 15 s more.
FORECAST_TRAIN_SECONDS = float(os.environ.get("FORECAST_TRAIN_SECONDS", "40"))
# The one upload limit: the caption form, its JavaScript and the 413 below all state this figure.
MAX_UPLOAD_MB = int(os.environ.get("MAX_UPLOAD_MB", "10"))
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# Whole request bodies above this are refused with 413 before Django reads them: one upload plus room for the
# multipart framing and the small fields beside it, so a file just under the limit is never refused for them.
UPLOAD_FRAMING_BYTES = 64 * 1024
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + UPLOAD_FRAMING_BYTES
# Staff upload training datasets in the admin: a zip of photos may be this large (webapp/training/datasets.py).
MAX_DATASET_UPLOAD_MB = int(os.environ.get("MAX_DATASET_UPLOAD_MB", "500"))
DATASET_UPLOAD_PATH = "/admin/training/dataset/"

# Job recovery: a running job's worker touches heartbeat_at every JOB_HEARTBEAT_SECONDS;
# a job whose heartbeat is older than JOB_STALE_SECONDS belonged to a dead worker.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "2"))
JOB_STALE_SECONDS = float(os.environ.get("JOB_STALE_SECONDS", "15"))
JOB_SWEEP_SECONDS = float(os.environ.get("JOB_SWEEP_SECONDS", "5"))
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "2"))
# A queued job with no worker claim for this long is re-sent (its message may have died with Redis).
JOB_RESEND_QUEUED_SECONDS = float(os.environ.get("JOB_RESEND_QUEUED_SECONDS", "120"))

# Dynamic batching (webapp/jobs/batching.py): an inference process serves up to JOB_BATCH_SIZE waiting jobs of one
# kind per forward pass; when others are already waiting it waits JOB_BATCH_WAIT_MS for more (a lone job never
# waits).
JOB_BATCH_SIZE = int(os.environ.get("JOB_BATCH_SIZE", "32"))
JOB_BATCH_WAIT_MS = float(os.environ.get("JOB_BATCH_WAIT_MS", "2"))
# A batched kind's result is kept in Redis this long under its inputs and model version, and the same request
# is answered from it without a forward pass (0 = off).
JOB_RESULT_CACHE_SECONDS = float(os.environ.get("JOB_RESULT_CACHE_SECONDS", "600"))

# Server folders staff may name as datasets (a Flickr8k download, say); uploads live under MEDIA_ROOT.
TRAINING_DATA_ROOTS = [Path(p) for p in os.environ.get(
    "TRAINING_DATA_ROOTS", f"{BASE_DIR.parent / 'shared' / 'data'},{VAR_DIR / 'datasets'}").split(",") if p]

# Finished next-word suggestions, inspections and diagnostics are deleted after this many days.
JOB_EPHEMERAL_DAYS = float(os.environ.get("JOB_EPHEMERAL_DAYS", "2"))

MODELS_DIR = Path(os.environ.get("UNROLL_MODELS_DIR", BASE_DIR / "models"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}


def require_secret_key():
    if not os.environ.get("SECRET_KEY"):
        raise ImproperlyConfigured("Set the SECRET_KEY environment variable.")
