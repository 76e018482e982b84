"""Hypothesis throws arbitrary fields and bytes at the API: every answer is a deliberate one, never a 500."""
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from PIL import Image

pytestmark = [pytest.mark.usefixtures("no_rate_limits"), pytest.mark.integration,
              pytest.mark.django_db(transaction=True)]
ALLOWED = {200, 202, 400, 413, 422}
FUZZ = hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=5)


def a_jpeg():
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


JPEG = a_jpeg()


@FUZZ
@given(body=st.fixed_dictionaries({}, optional={"text": json_values | st.text(max_size=3000), "k": json_values,
                                                "model": json_values | st.sampled_from(["ptb-lstm", "nope"])}))
def test_next_word_fields(client, celery_worker, lm_version, body):
    response = client.post("/api/next-word", json.dumps(body), content_type="application/json")
    assert response.status_code in ALLOWED, response.content[:300]
    assert "error" in response.json() or "suggestions" in response.json() or "status" in response.json()


@FUZZ
@given(raw=st.binary(max_size=4096))
def test_next_word_raw_bodies(client, lm_version, raw):
    response = client.post("/api/next-word", raw, content_type="application/json")
    assert response.status_code in ALLOWED, response.content[:300]


@FUZZ
@given(data=st.binary(max_size=8192) | st.builds(lambda cut, junk: JPEG[:cut] + junk + JPEG[cut + len(junk):],
                                                  st.integers(0, len(JPEG)), st.binary(max_size=64)),
       beam=st.one_of(st.none(), st.text(max_size=5), st.integers(-5, 50).map(str)),
       name=st.text(max_size=80))
def test_caption_uploads(client, caption_version, data, beam, name):
    # Built by hand so any file name, however hostile, reaches the server as sent.
    boundary = "fuzzboundary7MA4YWxkTrZu0gW"
    filename = name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n".encode("utf-8", "surrogatepass") + data + b"\r\n"]
    if beam is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="beam"\r\n\r\n{beam}\r\n'
                     .encode("utf-8", "surrogatepass"))
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    response = client.generic("POST", "/api/captions", body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code in ALLOWED, response.content[:300]
    if response.status_code == 400:
        assert response.json()["error"]
