"""Pick, register and activate model versions. The database decides which version serves."""
import functools
import json
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from redis.exceptions import RedisError

from webapp.jobs import completions

from .models import ModelVersion

MANIFEST_NAME = "unroll.json"


def resolve_path(version):
    path = Path(version.path)
    return path if path.is_absolute() else Path(settings.MODELS_DIR) / path


def version_json(version, name):
    """A JSON file of a version's directory (e.g. metrics.json), parsed once per change of the file: pages read
    them on every visit, the files change only when a figure is recorded. {} when missing or unreadable."""
    path = resolve_path(version) / name
    try:
        return _parsed_json(str(path), path.stat().st_mtime_ns)
    except OSError:
        return {}


@functools.lru_cache(maxsize=64)
def _parsed_json(path, mtime_ns):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def active_versions(kind=None):
    """Active versions, by kind and slot, from the process's cache of the active set (see _active_set)."""
    return [v for v in _active_set() if kind is None or v.kind == kind]


def active_version(kind, slot):
    return next((v for v in _active_set() if v.kind == kind and v.slot == slot), None)


# Every demo request picks an active version; reading them from the database each time was a third of a
# next-word request's web time. Each process keeps the active set, and reads it again
# - after every registry change: a ModelVersion save or delete replaces the registry's generation (a token in
#   Redis) and announces it on REGISTRY_CHANNEL, which the process's completion listener hears
#   (webapp/jobs/completions.py); while that listener is subscribed, the cache is trusted without asking Redis;
# - when the listener is not subscribed, whenever the generation differs from the one it was read under;
# - when Redis cannot say, and at least every ACTIVE_SET_MAX_AGE seconds.
GENERATION_KEY = "unroll:registry:generation"
REGISTRY_CHANNEL = "unroll:registry"
ACTIVE_SET_MAX_AGE = 30.0
# read_at: when the set was read; confirmed_at: when Redis last confirmed its generation (the listener must have
# been live since then for the set to be trusted without asking).
_active_cache = {"generation": None, "read_at": 0.0, "confirmed_at": 0.0, "versions": [], "heard": 0}
_active_lock = threading.Lock()
_heard = {"changes": 0}   # registry announcements this process's listener has heard


def _heard_change(data):
    _heard["changes"] += 1


completions.BROADCASTS[REGISTRY_CHANNEL] = _heard_change


def _generation():
    from webapp.jobs import broker

    try:
        client = broker.client()
        token = client.get(GENERATION_KEY)
        if token is None:  # a new or restarted Redis: start a generation
            client.set(GENERATION_KEY, uuid.uuid4().hex, nx=True)
            token = client.get(GENERATION_KEY)
        return token
    except RedisError:
        return None


def _read_active_set():
    return list(ModelVersion.objects.filter(is_active=True).order_by("kind", "slot"))


def _announced_no_change(cache):
    """True when the listener was subscribed before `cache` was last confirmed and has heard no change since."""
    listener = completions.listener()
    listener.ensure_running()   # a process whose requests never wait for a job still hears registry changes
    live_since = listener.live_since()
    return live_since is not None and live_since < cache["confirmed_at"] and cache["heard"] == _heard["changes"]


def _active_set():
    if connection.in_atomic_block:  # an uncommitted change must neither be cached nor hidden by the cache
        return _read_active_set()
    cache = _active_cache
    current = cache["generation"] is not None and time.monotonic() - cache["read_at"] < ACTIVE_SET_MAX_AGE
    if current and _announced_no_change(cache):
        return cache["versions"]
    # Taken before the read: a change announced during it makes the next call look again.
    heard, started = _heard["changes"], time.monotonic()
    generation = _generation()
    if current and generation == cache["generation"]:
        # Unchanged at `started`: every change heard before then replaced the generation. Without this the set
        # read before the listener came up would cost a GET per request until ACTIVE_SET_MAX_AGE.
        with _active_lock:
            if _active_cache["generation"] == generation:
                _active_cache.update(confirmed_at=started, heard=heard)
        return cache["versions"]
    versions = _read_active_set()
    with _active_lock:
        _active_cache.update(generation=generation, read_at=started, confirmed_at=started, versions=versions,
                             heard=heard)
    return versions


def registry_changed(**kwargs):
    """Tell this process now, and every process once the change is committed, that the registry changed
    (connected to ModelVersion's post_save and post_delete)."""
    _active_cache["generation"] = None
    transaction.on_commit(new_generation)


def new_generation():
    """Every process re-reads the active set on its next request (also how tests start from a clean slate)."""
    from webapp.jobs import broker

    _active_cache["generation"] = None
    try:
        client = broker.client()
        client.set(GENERATION_KEY, uuid.uuid4().hex)
        client.publish(REGISTRY_CHANNEL, "changed")
    except RedisError:  # other processes re-read within ACTIVE_SET_MAX_AGE
        pass


def _serve(version):
    """Make `version` the one active version of its slot, now."""
    ModelVersion.objects.filter(kind=version.kind, slot=version.slot, is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    version.is_active = True
    version.activated_at = timezone.now()


@transaction.atomic
def activate(version):
    """Make `version` the one that serves its slot, remembering the version it replaces for roll-back."""
    replaced = active_version(version.kind, version.slot)
    if replaced is not None and replaced.pk == version.pk:
        return version                               # already serving: its history stays as it is
    _serve(version)
    version.previous = replaced
    version.save(update_fields=["is_active", "activated_at", "previous"])
    return version


def rollback_target(version):
    """The version a roll-back from `version` would re-activate: the one it replaced, if it serves and has one."""
    if not version.is_active or version.previous_id is None:
        return None
    return version.previous


@transaction.atomic
def rollback(kind, slot):
    """Re-activate the version that served the slot before the current one became active. Returns it, or None.

    The re-activated version keeps the `previous` it recorded when it was first activated, so rolling back again
    goes one step further back (v3 -> v2 -> v1) rather than toggling, and stops where the history starts."""
    current = active_version(kind, slot)
    target = rollback_target(current) if current else None
    if target is None:
        return None
    _serve(target)
    target.save(update_fields=["is_active", "activated_at"])
    return target


@transaction.atomic
def register(kind, slot, label, path, config=None, metrics=None, command="", source="trained", activate_now=False):
    next_version = (ModelVersion.objects.filter(kind=kind, slot=slot).aggregate(m=Max("version"))["m"] or 0) + 1
    version = ModelVersion.objects.create(
        kind=kind,
        slot=slot,
        version=next_version,
        label=label,
        path=str(path),
        config=config or {},
        metrics=metrics or {},
        command=command,
        source=source,
    )
    if activate_now:
        activate(version)
    return version


def read_manifest(directory):
    """A checkpoint directory names itself in unroll.json: {"kind", "slot", "label"} (+ optional "default": true,
    the version a fresh install serves when several directories share a slot)."""
    manifest = json.loads((Path(directory) / MANIFEST_NAME).read_text())
    for key in ("kind", "slot", "label"):
        if not manifest.get(key):
            raise ValueError(f"{directory}/{MANIFEST_NAME} lacks '{key}'")
    return manifest


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def register_shipped_models(models_dir=None):
    """Register every checkpoint directory under MODELS_DIR that is not registered yet; return the new versions.

    A slot with no active version gets a shipped one activated (the one whose manifest says "default", else
    the first by directory name), so a fresh install serves at once, while a version staff activated later is
    never overridden. A shipped directory whose files changed since it was registered (a new release put
    another model at the same path) gets its row's label, config and metrics refreshed, so the admin describes
    what the workers load.
    """
    models_dir = Path(models_dir or settings.MODELS_DIR)
    registered, shipped = [], []
    for manifest_path in sorted(models_dir.glob(f"*/{MANIFEST_NAME}")):
        directory = manifest_path.parent
        manifest = read_manifest(directory)
        relative = directory.relative_to(models_dir) if directory.is_relative_to(models_dir) else directory
        config, metrics = _read_json(directory / "config.json"), _read_json(directory / "metrics.json")
        existing = ModelVersion.objects.filter(
            kind=manifest["kind"], slot=manifest["slot"], path=str(relative), source="shipped"
        ).first()
        if existing is None:
            existing = register(manifest["kind"], manifest["slot"], manifest["label"], relative, config=config,
                                metrics=metrics, command=metrics.get("command", ""), source="shipped")
            registered.append(existing)
        elif (existing.label, existing.config, existing.metrics) != (manifest["label"], config, metrics):
            existing.label, existing.config, existing.metrics = manifest["label"], config, metrics
            existing.command = metrics.get("command", "")
            existing.save(update_fields=["label", "config", "metrics", "command"])
        shipped.append((not manifest.get("default", False), existing))
    for _, version in sorted(shipped, key=lambda item: item[0]):     # stable: defaults first, then by name
        if active_version(version.kind, version.slot) is None:
            activate(version)
    return registered
