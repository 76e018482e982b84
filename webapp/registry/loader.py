"""Worker side: load each model version once per process and follow the active version in the database.

Every job asks for the active version of its slot (one indexed query), so activating or rolling back a
version in the admin takes effect on the next job without restarting workers; a job already running keeps the
model object it started with.
"""
import threading
from collections import OrderedDict

from .models import ModelVersion
from .services import resolve_path

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


def active_model(kind, slot):
    """(version, model) for the slot's active version."""
    version = ModelVersion.objects.filter(kind=kind, slot=slot, is_active=True).first()
    if version is None:
        raise ModelUnavailable(f"No active {ModelVersion.Kind(kind).label.lower()} for '{slot}'.")
    return version, get_model(version)
