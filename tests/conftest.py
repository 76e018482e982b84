"""Shared fixtures: every test session gets its own real Redis; integration tests get real Celery workers."""
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from webapp import launcher

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def redis_url(tmp_path_factory):
    """A throw-away redis-server for the whole session; Django and Celery in this process point at it."""
    from django.conf import settings

    from webapp.celery import app

    url, proc = launcher.start_redis(workdir=tmp_path_factory.mktemp("redis"))
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    settings.CACHES["default"]["LOCATION"] = url
    app.conf.broker_url = url
    os.environ["REDIS_URL"] = url
    yield url
    launcher.stop(proc, "redis")


@pytest.fixture(autouse=True)
def fresh_active_versions(redis_url):
    """Tests change the database behind the registry's back (a rolled-back transaction, a flush): tell every
    process (this one, live servers, workers) to read the active model versions again."""
    from webapp.registry.services import new_generation

    new_generation()


@pytest.fixture(autouse=True)
def no_cached_results(redis_url):
    """Results cached by an earlier test (whose model version id a later test's may reuse) must not answer it."""
    from webapp.jobs import broker

    client = broker.client()
    keys = list(client.scan_iter("unroll:result:*", count=1000))
    if keys:
        client.delete(*keys)


def database_url(db):
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def worker_env(django_db_setup, redis_url):
    """Environment for worker processes: the same test database, Redis and media folder as this process."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings.test",
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        UNROLL_TEST_VAR_DIR=str(settings.VAR_DIR),
        FORECAST_TRAIN_SECONDS="4",  # a forecast job that trains: seconds, not the product's minute
        PYTHONUNBUFFERED="1",
    )
    return env


class WorkerProcess:
    """A real `celery worker` subprocess in its own process group, with its log kept for failure reports."""

    def __init__(self, env, queues, log_dir, concurrency=1):
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.log = Path(log_dir) / f"worker-{self.name.split('@')[0]}.log"
        command = launcher.worker_command(queues=queues, concurrency=concurrency, name=self.name, loglevel="info")
        self.proc = launcher.spawn(command, env=env, log=self.log)

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            if "ready." in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.tail()}")

    def tail(self, lines=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self, sig):
        os.killpg(self.proc.pid, sig)
        self.proc.wait(30)

    def stop(self):
        launcher.stop(self.proc, "worker")


@pytest.fixture(scope="session")
def start_worker(worker_env, tmp_path_factory):
    """Factory: start a real worker on the given queues; all are stopped at the end of the session."""
    started = []
    log_dir = tmp_path_factory.mktemp("workers")

    def start(queues="inference,training", env_overrides=None, concurrency=1):
        env = {**worker_env, **(env_overrides or {})}
        worker = WorkerProcess(env, queues, log_dir, concurrency).wait_ready()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def celery_worker(start_worker):
    """One worker on the app's real queues, shared by the integration tests."""
    return start_worker()


@pytest.fixture
def no_rate_limits(settings):
    """Many requests from one address in a few seconds: only the tests about the limits keep them."""
    from django.core.cache import cache

    cache.clear()
    settings.RATELIMIT_ENABLE = False
    yield
    cache.clear()


@pytest.fixture
def wait_until():
    def wait(predicate, timeout=30, interval=0.1, message="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")

    return wait


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL")
    return f"database: {'PostgreSQL (' + url.rsplit('@', 1)[-1] + ')' if url else 'SQLite'}; python {sys.version.split()[0]}"


# --- tiny real models: the real ml/ code paths, small enough to build in a second --------------------------

@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A small LSTM language model checkpoint directory (random weights, the real format and loader)."""
    import torch

    from ml.lm.checkpoint import save_model_dir
    from ml.lm.model import RNNModel
    from tests.support.lm import tiny_corpus

    torch.manual_seed(0)
    corpus = tiny_corpus()
    model = RNNModel(len(corpus.vocab), cell="lstm", emsize=16, nhid=16, nlayers=2, tie_weights=True)
    config = {"slot": "ptb-lstm", "label": "Tiny test LSTM", "corpus": "tiny"}
    return save_model_dir(tmp_path_factory.mktemp("models") / "tiny-lstm", model.eval(), corpus.vocab, config,
                          {"command": "tests/conftest.py tiny_lm_dir"})


@pytest.fixture(scope="session")
def tiny_caption_dir(tmp_path_factory):
    """A small captioner checkpoint directory (random decoder on the real MobileNetV2 encoder)."""
    from tests.support.captions import tiny_model_dir

    return tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny-caption")


@pytest.fixture(scope="session")
def toy_translator_dirs(tmp_path_factory):
    """{"general": dir, "none": dir}: toy-language translators with and without attention (a few seconds each)."""
    from tests.support.translate import toy_translator

    root = tmp_path_factory.mktemp("translators")
    return {attention: toy_translator(root / attention, attention) for attention in ("general", "none")}


@pytest.fixture
def translate_versions(toy_translator_dirs, db):
    """The toy translators installed as the en-de pair's two models."""
    from webapp.registry import services

    return {"en-de": services.register("translate", "en-de", "Toy · with attention", toy_translator_dirs["general"],
                                       activate_now=True),
            "en-de-noattn": services.register("translate", "en-de-noattn", "Toy · without attention",
                                              toy_translator_dirs["none"], activate_now=True)}


@pytest.fixture(scope="session")
def tiny_forecaster_dir(tmp_path_factory):
    """A small LSTM forecaster of the yearly sunspots (11 steps ahead), its backtest recorded as shipped ones are."""
    from tests.support.forecast import tiny_forecaster

    return tiny_forecaster(tmp_path_factory.mktemp("forecaster"))


@pytest.fixture
def forecast_version(tiny_forecaster_dir, db):
    from webapp.registry import services

    return services.register("forecast", "sunspots-lstm", "Sunspots · tiny LSTM", tiny_forecaster_dir,
                             config=json.loads((tiny_forecaster_dir / "config.json").read_text()),
                             metrics=json.loads((tiny_forecaster_dir / "metrics.json").read_text()),
                             activate_now=True)


@pytest.fixture
def lm_version(tiny_lm_dir, db):
    from webapp.registry import services

    return services.register("lm", "ptb-lstm", "Tiny test LSTM", tiny_lm_dir, activate_now=True)


@pytest.fixture
def caption_version(tiny_caption_dir, db):
    from webapp.registry import services

    return services.register("caption", "flickr8k", "Tiny test captioner", tiny_caption_dir, activate_now=True)
