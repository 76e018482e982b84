"""Shipped model directories -> ModelVersion rows: which version a fresh install serves, and upgrades."""
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from webapp.registry import services
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"


def ship(models_dir: Path, name: str, slot: str = "flickr8k", default: bool = False, val: float = 0.5) -> Path:
    directory = models_dir / name
    directory.mkdir(parents=True)
    manifest = {"kind": "caption", "slot": slot, "label": f"label of {name}", **({"default": True} if default else {})}
    (directory / "unroll.json").write_text(json.dumps(manifest))
    (directory / "config.json").write_text(json.dumps({"decoder": {"hidden_dim": 8}}))
    (directory / "metrics.json").write_text(json.dumps({"val": {"cider": val}, "command": f"make {name}"}))
    return directory


def active(slot="flickr8k"):
    return ModelVersion.objects.get(kind="caption", slot=slot, is_active=True)


def test_the_default_version_serves_a_fresh_install_whatever_the_directory_order(tmp_path):
    ship(tmp_path, "a-first-by-name")
    ship(tmp_path, "b-default", default=True)
    ship(tmp_path, "c-other-slot", slot="other")
    new = services.register_shipped_models(tmp_path)
    assert [v.path for v in new] == ["a-first-by-name", "b-default", "c-other-slot"]
    assert active().path == "b-default"
    assert active("other").path == "c-other-slot"          # no default: the only one
    assert ModelVersion.objects.filter(slot="flickr8k").count() == 2


def test_without_a_default_the_first_directory_by_name_is_served(tmp_path):
    ship(tmp_path, "b-second")
    ship(tmp_path, "a-first")
    services.register_shipped_models(tmp_path)
    assert active().path == "a-first"


def test_staff_choice_survives_a_re_registration(tmp_path):
    ship(tmp_path, "fast", default=True)
    ship(tmp_path, "ensemble")
    services.register_shipped_models(tmp_path)
    services.activate(ModelVersion.objects.get(path="ensemble"))
    assert services.register_shipped_models(tmp_path) == []
    assert active().path == "ensemble"


def test_a_changed_shipped_directory_refreshes_its_row(tmp_path):
    directory = ship(tmp_path, "caption-flickr8k", val=0.5)
    (version,) = services.register_shipped_models(tmp_path)
    manifest = json.loads((directory / "unroll.json").read_text())
    (directory / "unroll.json").write_text(json.dumps({**manifest, "label": "a newer release"}))
    (directory / "metrics.json").write_text(json.dumps({"val": {"cider": 0.6}, "command": "make newer"}))
    assert services.register_shipped_models(tmp_path) == []
    version.refresh_from_db()
    assert (version.label, version.metrics["val"]["cider"], version.command) == ("a newer release", 0.6, "make newer")
    assert version.version == 1 and version.is_active


def test_the_repository_ships_the_single_decoder_as_the_default_caption_model(capsys):
    """Issue #4's speed goal: a fresh install serves the single decoder; the ensemble is there to activate."""
    call_command("register_models", models_dir=str(REPO_MODELS))
    version = active()
    assert version.path == "caption-flickr8k"
    assert version.config.get("ensemble_size", 1) == 1
    ensemble = ModelVersion.objects.get(kind="caption", slot="flickr8k", path="caption-flickr8k-ensemble")
    assert ensemble.config["ensemble_size"] == 3 and not ensemble.is_active
    assert "active: caption:flickr8k" in capsys.readouterr().out
