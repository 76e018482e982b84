"""Per-client rate limits, request size limits and the database-down answer."""
import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def test_too_many_requests_get_a_429_with_retry_after(client, settings, lm_version):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "suggest": "3/m"}
    for _ in range(3):
        assert client.post("/api/next-word", {"text": ""}, content_type="application/json").status_code == 400
    response = client.post("/api/next-word", {"text": "the"}, content_type="application/json")
    assert response.status_code == 429
    assert "Too many requests" in response.json()["error"] and response["Retry-After"] == "60"


def test_limits_are_per_client(client, settings, lm_version):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "suggest": "1/m"}
    client.post("/api/next-word", {"text": ""}, content_type="application/json")
    assert client.post("/api/next-word", {"text": ""}, content_type="application/json").status_code == 429
    other = client.post("/api/next-word", {"text": ""}, content_type="application/json", REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 400


def test_an_oversized_body_is_refused_before_it_is_read(client, settings):
    settings.MAX_REQUEST_BYTES = 1000
    response = client.post("/api/captions", data=b"x" * 5000, content_type="application/octet-stream")
    assert response.status_code == 413 and "limit is" in response.json()["error"]


def test_staff_dataset_uploads_may_be_larger_than_a_visitors_photo(client, settings):
    settings.MAX_REQUEST_BYTES, settings.MAX_DATASET_UPLOAD_MB = 1000, 1
    big = b"x" * 5000  # over a visitor's limit, under a dataset's
    assert client.post("/api/captions", data=big, content_type="application/octet-stream").status_code == 413
    response = client.post("/admin/training/dataset/add/", data=big, content_type="application/octet-stream")
    assert response.status_code != 413  # the admin asks for a login instead
    huge = b"x" * (2 * 1_048_576)
    response = client.post("/admin/training/dataset/add/", data=huge, content_type="application/octet-stream")
    assert response.status_code == 413 and b"the limit is 1 MB" in response.content
    assert b"Too large" in response.content and b"Go to the home page" in response.content  # the friendly page
