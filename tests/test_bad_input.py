"""Bad input gets a 4xx with a clear message, in the API and on the page; nothing reaches a worker."""
import io
import struct
import zlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def png_claiming(width, height):
    """A few-hundred-byte PNG whose header claims width x height pixels: a decompression bomb."""
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17]))
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def jpeg_bytes():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(out, "JPEG")
    return out.getvalue()


BAD_UPLOADS = {
    "not an image": (b"hello, I am text", "not an image"),
    "empty": (b"", "empty"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
    "html": (b"<!doctype html><html><body><script>alert(1)</script></body></html>", "not an image"),
    "truncated jpeg": (jpeg_bytes()[:200], "damaged"),
    "decompression bomb": (png_claiming(30000, 30000), "megapixels"),
}


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_caption_api_rejects_bad_uploads(client, caption_version, name):
    data, message = BAD_UPLOADS[name]
    response = client.post("/api/captions", {"image": SimpleUploadedFile("x.jpg", data)})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_caption_page_shows_the_error_for_bad_uploads(client, caption_version, name):
    data, message = BAD_UPLOADS[name]
    response = client.post("/caption/", {"image": SimpleUploadedFile("x.jpg", data)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_caption_api_rejects_a_file_over_the_size_limit(client, caption_version):
    big = SimpleUploadedFile("big.jpg", b"\xff" * (settings.MAX_UPLOAD_BYTES + 1))
    response = client.post("/api/captions", {"image": big})
    assert response.status_code == 400 and "limit is 10 MB" in response.json()["error"]


def test_caption_api_needs_a_file(client, caption_version):
    response = client.post("/api/captions", {})
    assert response.status_code == 400 and response.json()["field"] == "image"


@pytest.mark.parametrize("beam", ["0", "11", "wide"])
def test_caption_api_rejects_a_bad_beam(client, caption_version, beam):
    response = client.post("/api/captions", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes()), "beam": beam})
    assert response.status_code == 400 and response.json()["field"] == "beam"
    assert response.json()["error"].startswith("Beam width: ")


def test_caption_without_an_active_model_is_503_not_500(client):
    response = client.post("/api/captions", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes())})
    assert response.status_code == 503 and "No image captioner" in response.json()["error"]


@pytest.mark.parametrize("body, field, message", [
    ({"text": ""}, "text", "prompt is empty"),
    ({"text": "   \n\t"}, "text", "only whitespace"),
    ({"text": "word " * 2000}, "text", "too long"),
    ({"text": "the", "k": 0}, "k", "k: must be at least 1."),
    ({"text": "the", "k": 21}, "k", "k: must be at most 20."),
    ({"text": "the", "k": "many"}, "k", "whole number"),
    ({"text": "the", "model": "no-such-model"}, "model", "Model: unknown model"),
    ({"text": 42}, "text", "must be a string"),
])
def test_next_word_api_rejects_bad_fields(client, lm_version, body, field, message):
    response = client.post("/api/next-word", body, content_type="application/json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["field"] == field and message in payload["error"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("raw, message", [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"),
                                          (b"x" * 20000, "larger than")])
def test_next_word_api_rejects_bad_bodies(client, lm_version, raw, message):
    response = client.post("/api/next-word", raw, content_type="application/json")
    assert response.status_code in (400, 413) and message in response.json()["error"]


@pytest.mark.parametrize("body, field", [({"text": "a", "temperature": 0}, "temperature"),
                                         ({"text": "a", "words": 500}, "words"),
                                         ({"text": "a", "top_k": 0}, "top_k")])
def test_sample_api_rejects_out_of_range_controls(client, lm_version, body, field):
    response = client.post("/api/next-word/sample", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == field


def test_next_word_with_no_model_installed_is_400_with_a_reason(client):
    response = client.post("/api/next-word", {"text": "the"}, content_type="application/json")
    assert response.status_code == 400 and "Model: no language model" in response.json()["error"]


def test_api_answers_405_as_json_for_the_wrong_method(client):
    response = client.get("/api/next-word")
    assert response.status_code == 405


def test_path_traversal_names_and_exif_never_reach_the_disk(client, caption_version, settings):
    from pathlib import Path

    from PIL import Image as PILImage

    exif = PILImage.Exif()
    exif[0x8825] = {2: (51, 30, 0)}  # GPS latitude
    exif[0x010F] = "SecretCam"  # camera make
    exif[0x0112] = 6  # orientation: rotate 90
    out = io.BytesIO()
    PILImage.new("RGB", (80, 40), "blue").save(out, "JPEG", exif=exif)
    response = client.post("/api/captions", {"image": SimpleUploadedFile("../../../etc/passwd.jpg", out.getvalue())})
    assert response.status_code == 202
    job = Job.objects.get()
    stored = Path(job.input_file.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve() / "uploads")
    assert "passwd" not in stored.name
    with PILImage.open(stored) as image:
        assert image.format == "JPEG" and not image.getexif()
        assert image.size == (40, 80), "EXIF orientation is applied before the metadata is dropped"


def test_uploads_are_served_as_jpeg_never_as_html(client, caption_version):
    html_polyglot = jpeg_bytes() + b"<html><script>alert(1)</script></html>"
    response = client.post("/api/captions", {"image": SimpleUploadedFile("x.html", html_polyglot)})
    assert response.status_code == 202
    job = Job.objects.get()
    served = client.get(f"/caption/{job.pk}/image.jpg")
    assert served["Content-Type"] == "image/jpeg" and served["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in b"".join(served.streaming_content)


def test_the_same_photo_uploaded_twice_is_stored_clean_twice_and_a_bad_one_fails_every_time(client, caption_version):
    """Re-uploads skip the decode and re-encode (the clean copy is remembered by the upload's hash), yet every
    job still gets its own clean file, and a refused file is refused again."""
    out = io.BytesIO()
    Image.new("RGB", (90, 60), "green").save(out, "PNG")
    for _ in range(2):
        assert client.post("/api/captions", {"image": SimpleUploadedFile("a.png", out.getvalue())}).status_code == 202
    first, second = Job.objects.order_by("queued_at")
    assert first.input_file.name != second.input_file.name
    assert first.input_file.read() == second.input_file.read()
    assert first.input["image"] == second.input["image"] == {"original": {"format": "PNG", "width": 90, "height": 60},
                                                             "width": 90, "height": 60}
    for _ in range(2):
        response = client.post("/api/captions", {"image": SimpleUploadedFile("b.jpg", b"\xff\xd8 broken")})
        assert response.status_code == 400 and "not an image we can read" in response.json()["error"]
