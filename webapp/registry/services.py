"""Pick, register and activate model versions. The database decides which version serves."""
import functools
import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

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


# What a request needs to pick and name a version; config and metrics are large JSON documents.
LISTING_FIELDS = ("id", "kind", "slot", "version", "label", "path", "is_active")


def active_versions(kind=None, listing=False):
    """Active versions, by kind and slot; `listing` loads only LISTING_FIELDS (the rest loads on access)."""
    qs = ModelVersion.objects.filter(is_active=True)
    if listing:
        qs = qs.only(*LISTING_FIELDS)
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.order_by("kind", "slot"))


def active_version(kind, slot):
    return ModelVersion.objects.filter(kind=kind, slot=slot, is_active=True).first()


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
