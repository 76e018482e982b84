"""Worker side: load each model version once per process and follow the active version in the database.

Every job asks for the active version of its slot (one indexed query), so activating or rolling back a
version in the admin takes effect on the next job without restarting workers; a job already running keeps the
model object it started with.
"""
import logging
import os
import threading
import time
from collections import OrderedDict

from celery.signals import worker_process_init

from .models import ModelVersion
from .services import resolve_path

logger = logging.getLogger(__name__)
MAX_LOADED = 8
_loaded = OrderedDict()  # version id -> loaded model object
_lock = threading.Lock()


class ModelUnavailable(Exception):
    """No usable model for the request: nothing active in the slot, or its files are missing or broken."""


def _load(version):
    path = resolve_path(version)
    if not path.is_dir():
        raise ModelUnavailable(f"The files of model {version} are missing ({path}).")
    if version.kind == ModelVersion.Kind.LANGUAGE_MODEL:
        from ml.lm.predictor import NextWordPredictor

        return NextWordPredictor.from_dir(path)
    if version.kind == ModelVersion.Kind.CAPTIONER:
        from ml.caption.captioner import Captioner

        return Captioner.from_dir(path)
    if version.kind == ModelVersion.Kind.TRANSLATOR:
        from ml.translate.translator import Translator

        return Translator.from_dir(path)
    if version.kind == ModelVersion.Kind.FORECASTER:
        from ml.forecast.forecaster import Forecaster

        return Forecaster.from_dir(path)
    raise ModelUnavailable(f"No loader for model kind {version.kind!r}.")


def get_model(version):
    """The loaded model of `version`, loading it on first use (least recently used versions are dropped)."""
    with _lock:
        if version.pk in _loaded:
            _loaded.move_to_end(version.pk)
            return _loaded[version.pk]
    model = _load(version)
    with _lock:
        _loaded[version.pk] = model
        while len(_loaded) > MAX_LOADED:
            _loaded.popitem(last=False)
    return model


VERSION_TTL_SECONDS = 30.0  # a label edited in the admin shows in results within this long
_versions = {}  # version id -> (ModelVersion, monotonic time read)


def cached_version(pk):
    """The ModelVersion row `pk`, read at most every VERSION_TTL_SECONDS per process (None if it is gone).

    A version's files never change once registered, so jobs need not re-read it; this saves a query per job."""
    hit = _versions.get(pk)
    if hit is not None and time.monotonic() - hit[1] < VERSION_TTL_SECONDS:
        return hit[0]
    version = ModelVersion.objects.filter(pk=pk).first()
    if version is not None:
        _versions[pk] = (version, time.monotonic())
    return version


def warm_up(version, model):
    """One real inference of each kind a visitor can ask for: the first calls of a loaded model pay for lazy
    set-up (int8 weight packing, oneDNN kernels, traced decoder steps) that must not land on a visitor."""
    if version.kind == ModelVersion.Kind.LANGUAGE_MODEL:
        model.suggest("the stock market", k=8)
        model.sample("the stock market", n_words=5, seed=0)
        model.inspect("the stock market")
    elif version.kind == ModelVersion.Kind.CAPTIONER:
        from PIL import Image

        model.caption(Image.new("RGB", (320, 240), (120, 140, 160)))
    elif version.kind == ModelVersion.Kind.TRANSLATOR:
        model.translate("A little girl in a pink dress is running on the beach.", beam=5)
    elif version.kind == ModelVersion.Kind.FORECASTER:
        from webapp.forecast.services import answer_shipped

        answer_shipped(version, model, horizon=model.horizon)   # also reads its series (pandas, arch) once


def preload_active_models():
    """Load and warm every active version now, so the first visitor waits for neither."""
    from django.db import connection

    try:
        for version in ModelVersion.objects.filter(is_active=True):
            started = time.perf_counter()
            try:
                warm_up(version, get_model(version))
            except Exception as exc:  # a broken checkpoint must not stop the worker; its jobs will fail clearly
                logger.warning("could not preload %s: %s", version, exc)
            else:
                logger.info("loaded and warmed %s in %.1f s (pid %d)", version, time.perf_counter() - started,
                            os.getpid())
    finally:
        connection.close()


def configure_torch():
    """One intra-op thread per pool process by default: batch-1 inference gains little from more, and two
    processes each spinning two OpenMP threads on a 2-core machine slow every request down many times over."""
    import torch
    from django.conf import settings

    torch.set_num_threads(settings.WORKER_TORCH_THREADS)


@worker_process_init.connect
def _preload(**kwargs):
    configure_torch()
    # Synchronously, before the process takes a task: loading code such as torch.fx tracing patches global
    # state and must never overlap inference in another thread. CELERY_WORKER_PROC_ALIVE_TIMEOUT allows for it.
    preload_active_models()
    from webapp.jobs.worker import mark_process_warm, start_batches

    mark_process_warm()
    start_batches()
