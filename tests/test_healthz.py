import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_503_without_a_worker(client):
    response = client.get("/healthz")
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"]
    if body["workers"]["count"] == 0:
        assert response.status_code == 503 and body["status"] == "unavailable"


def test_healthz_is_503_when_the_broker_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] is False and "Connection" in body["broker"]["error"]
    assert body["database"]["ok"] is True


def test_home_page_links_health_and_renders_without_a_worker(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"/healthz" in response.content and b"Unroll" in response.content


def test_production_settings_refuse_to_start_without_a_secret_key(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        importlib.reload(importlib.import_module("webapp.settings.production"))
