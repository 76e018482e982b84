"""Shipped model directories -> ModelVersion rows: which version a fresh install serves, and upgrades."""
import json
import time
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
    ship(tmp_path, "careful")
    services.register_shipped_models(tmp_path)
    services.activate(ModelVersion.objects.get(path="careful"))
    assert services.register_shipped_models(tmp_path) == []
    assert active().path == "careful"


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


def test_the_repository_ships_one_caption_model_and_serves_it(capsys):
    call_command("register_models", models_dir=str(REPO_MODELS))
    assert active().path == "caption-flickr8k"
    assert [v.path for v in ModelVersion.objects.filter(kind="caption")] == ["caption-flickr8k"]
    assert "active: caption:flickr8k" in capsys.readouterr().out


def three_versions(slot="s"):
    return [services.register("lm", slot, "Tiny GRU", f"/v{n}") for n in (1, 2, 3)]


def test_rollback_walks_back_through_activations_instead_of_toggling():
    """Issue #20: activate v1, v2, v3; each roll-back goes one step further back, then there is nothing left."""
    v1, v2, v3 = three_versions()
    for version in (v1, v2, v3):
        services.activate(version)
    assert services.rollback("lm", "s") == v2
    assert services.rollback("lm", "s") == v1          # the old code toggled back to v3 here
    assert services.active_version("lm", "s") == v1
    assert services.rollback("lm", "s") is None        # v1 replaced nothing
    assert services.active_version("lm", "s") == v1


def test_rolling_back_keeps_the_target_s_own_record_of_what_it_replaced():
    v1, v2, v3 = three_versions()
    services.activate(v1)
    services.activate(v2)
    services.activate(v3)
    services.rollback("lm", "s")
    v2.refresh_from_db()
    assert v2.is_active and v2.previous == v1
    assert services.rollback_target(v2) == v1
    v3.refresh_from_db()
    assert services.rollback_target(v3) is None        # not serving: nothing of its to undo


def test_activation_records_the_version_it_replaced_and_re_activation_is_a_no_op():
    v1, v2, v3 = three_versions()
    services.activate(v1)
    services.activate(v3)
    services.activate(v2)                              # activation order, not version number, decides
    assert services.rollback("lm", "s") == v3
    services.activate(v3)                              # already serving: must not forget it replaced v1
    assert services.rollback_target(services.active_version("lm", "s")) == v1


def test_other_slots_are_not_touched_by_a_rollback():
    a1, a2, _ = three_versions("a")
    b1, b2, _ = three_versions("b")
    for version in (a1, a2, b1, b2):
        services.activate(version)
    assert services.rollback("lm", "a") == a1
    assert services.active_version("lm", "b") == b2


def test_the_migration_guesses_what_an_already_active_version_replaced():
    """Versions activated before `previous` existed: the active one gets the last version activated before it."""
    import importlib

    from django.apps import apps
    from django.utils import timezone

    migration = importlib.import_module("webapp.registry.migrations.0003_modelversion_previous")
    v1, v2, v3 = three_versions()
    now = timezone.now()
    ModelVersion.objects.filter(pk=v1.pk).update(activated_at=now - timezone.timedelta(hours=2))
    ModelVersion.objects.filter(pk=v3.pk).update(activated_at=now - timezone.timedelta(hours=1))
    ModelVersion.objects.filter(pk=v2.pk).update(activated_at=now, is_active=True)
    migration.guess_previous_of_active_versions(apps, None)
    v2.refresh_from_db()
    assert v2.previous == v3


@pytest.fixture
def activator(client):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("activator", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["activate_modelversion", "view_modelversion"]))
    client.force_login(user)
    return client


def test_activate_and_rollback_ask_for_confirmation_before_acting(activator):
    v1, v2, v3 = three_versions()
    services.activate(v1)
    services.activate(v2)
    page = activator.get(f"/admin/registry/modelversion/{v3.pk}/activate/").content.decode()
    assert "Activate Tiny GRU v3?" in page and "instead of Tiny GRU v2" in page and 'id="confirm-activate"' in page
    assert services.active_version("lm", "s") == v2    # asking changed nothing
    activator.post(f"/admin/registry/modelversion/{v3.pk}/activate/")
    assert services.active_version("lm", "s") == v3

    page = activator.get(f"/admin/registry/modelversion/{v3.pk}/change/").content.decode()
    assert "Roll back to v2" in page
    page = activator.get(f"/admin/registry/modelversion/{v3.pk}/rollback/").content.decode()
    assert "Roll back “s” to Tiny GRU v2?" in page and 'id="confirm-rollback"' in page
    assert services.active_version("lm", "s") == v3
    activator.post(f"/admin/registry/modelversion/{v3.pk}/rollback/")
    assert services.active_version("lm", "s") == v2
    assert "Roll back to v1" in activator.get(f"/admin/registry/modelversion/{v2.pk}/change/").content.decode()


def test_a_version_with_nothing_before_it_offers_no_rollback(activator):
    (v1,) = three_versions()[:1]
    services.activate(v1)
    page = activator.get(f"/admin/registry/modelversion/{v1.pk}/change/").content.decode()
    assert 'id="rollback-version"' not in page and "Nothing to roll back to" in page
    response = activator.post(f"/admin/registry/modelversion/{v1.pk}/rollback/")
    assert response.status_code == 302 and services.active_version("lm", "s") == v1


def test_a_stale_rollback_from_a_version_that_no_longer_serves_changes_nothing(activator):
    v1, v2, v3 = three_versions()
    for version in (v1, v2, v3):
        services.activate(version)
    services.rollback("lm", "s")                       # someone else already rolled v3 back
    activator.post(f"/admin/registry/modelversion/{v3.pk}/rollback/")
    assert services.active_version("lm", "s") == v2


def test_confirmation_pages_need_the_permission(client):
    from django.contrib.auth.models import User

    v1, v2, _ = three_versions()
    services.activate(v1)
    services.activate(v2)
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get(f"/admin/registry/modelversion/{v1.pk}/activate/").status_code == 403
    assert client.get(f"/admin/registry/modelversion/{v2.pk}/rollback/").status_code == 403


def test_the_admin_says_it_is_unroll_s(activator):
    page = activator.get("/admin/").content.decode()
    assert "Unroll admin" in page and "Django administration" not in page


def _another_process_activates(version):
    """What a change in another process looks like here: the row changes without this process's signals, then
    the registry's generation is replaced and announced."""
    ModelVersion.objects.filter(kind=version.kind, slot=version.slot).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    from webapp.jobs import broker

    broker.client().set(services.GENERATION_KEY, "another-process")
    broker.client().publish(services.REGISTRY_CHANNEL, "changed")


def _two_versions():
    v1 = ModelVersion.objects.create(kind="caption", slot="cache", version=1, label="one", path="a", is_active=True)
    v2 = ModelVersion.objects.create(kind="caption", slot="cache", version=2, label="two", path="b")
    return v1, v2


@pytest.mark.django_db(transaction=True)
def test_the_active_set_is_served_from_memory_while_the_listener_says_nothing_changed(django_assert_num_queries):
    from webapp.jobs import completions

    v1, v2 = _two_versions()
    listener = completions.listener()
    listener.ensure_running()
    deadline = time.monotonic() + 5
    while listener.live_since() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.01)
    assert services.active_version("caption", "cache") == v1       # read now: the listener was live before
    with django_assert_num_queries(0):
        assert services.active_version("caption", "cache") == v1

    heard = services._heard["changes"]
    _another_process_activates(v2)
    deadline = time.monotonic() + 5
    while services._heard["changes"] == heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert services.active_version("caption", "cache") == v2       # announced: read again at once


@pytest.mark.django_db(transaction=True)
def test_while_the_listener_is_down_a_replaced_generation_makes_the_process_read_again():
    from webapp.jobs import completions

    v1, v2 = _two_versions()
    listener = completions.listener()
    live_since, listener._live_since = listener._live_since, None   # as if its subscription were broken
    try:
        assert services.active_version("caption", "cache") == v1
        _another_process_activates(v2)
        assert services.active_version("caption", "cache") == v2
    finally:
        listener._live_since = live_since


def _redis_gets():
    from webapp.jobs import broker

    return broker.client().info("commandstats").get("cmdstat_get", {}).get("calls", 0)


@pytest.mark.django_db(transaction=True)
def test_a_set_read_before_the_listener_came_up_is_trusted_after_one_confirmation():
    from webapp.jobs import completions

    v1, _ = _two_versions()
    listener = completions.listener()
    listener.ensure_running()
    live_since, listener._live_since = listener._live_since, None   # not yet subscribed when the set is read
    try:
        assert services.active_version("caption", "cache") == v1
        listener._live_since = time.monotonic()                     # subscribed after the read
        before = _redis_gets()
        for _ in range(3):
            assert services.active_version("caption", "cache") == v1
        assert _redis_gets() - before == 1                          # one GET confirms the generation, then none
    finally:
        listener._live_since = live_since
