"""What a new visitor hits on the caption pages (issue 20), in headless Chromium against a live server and a real
Celery worker: phone widths, selecting a word's attention map by click or tap, the upload form's limit and
state, keyboard focus on the drop zone, and sample photos from the model's own world."""
import os
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from webapp.captions import samples

from .test_pages import CANVAS_ALPHA, canvas_alpha

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]
FLICKR = Path(os.environ.get("FLICKR8K_DIR", REPO.parent / "shared" / "data" / "flickr8k"))
PHONES = [pytest.param({"width": 390, "height": 844}, id="390x844"),
          pytest.param({"width": 360, "height": 740}, id="360x740")]
IN_WORLD_SAMPLES = {"grace-hopper", "cameraman"}
PHOTO_LOADED = "() => { const p = document.getElementById('photo'); return p.complete && p.naturalWidth > 0; }"
PAGE_WIDTHS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def a_real_photo():
    """A Flickr8k photo when the shared data is there, else one of the shipped sample photos."""
    images = FLICKR / "images"
    if images.is_dir():
        return next(iter(sorted(images.glob("*.jpg"))))
    return REPO / "static" / "img" / "samples" / "cameraman.jpg"


def oversized_file(tmp_path, megabytes=None):
    """Any bytes named .jpg: by default one megabyte over the upload limit."""
    path = tmp_path / "huge.jpg"
    size = int((megabytes or settings.MAX_UPLOAD_MB + 1) * 1_048_576)
    path.write_bytes(a_real_photo().read_bytes().ljust(size, b"\0"))
    return path


def multipart_image(path):
    return {"name": path.name, "mimeType": "image/jpeg", "buffer": path.read_bytes()}


@pytest.fixture
def caption_url(live_server, celery_worker, caption_version, page):
    """The result page of a succeeded caption job for a real photo."""
    response = page.request.post(f"{live_server.url}/api/captions",
                                 multipart={"image": multipart_image(a_real_photo()), "wait": "10"})
    body = response.json()
    assert response.status == 200 and body["status"] == "succeeded", body
    return body["page_url"]


def open_result(page, url):
    page.goto(url)
    page.locator(".word-chip").first.wait_for()
    page.wait_for_function(PHOTO_LOADED)


def heatmap_label(page):
    return page.locator("#heatmap-label").inner_text()


def pressed(page):
    return page.locator('.word-chip[aria-pressed="true"]')


# Item 9: sample photos from the model's world

def test_the_samples_are_the_in_world_photos_with_alt_text_and_credits(live_server, page):
    assert {sample.name for sample in samples.SAMPLES} == IN_WORLD_SAMPLES
    page.goto(f"{live_server.url}/caption/")
    expect(page.locator("#model-world")).to_contain_text("Flickr8k")
    expect(page.locator("#model-world")).to_contain_text("nonsense")
    shown = page.locator(".sample")
    assert {shown.nth(i).get_attribute("data-name") for i in range(shown.count())} == IN_WORLD_SAMPLES
    assert shown.count() == len(IN_WORLD_SAMPLES)
    for figure in page.locator(".sample-figure").all():
        image = figure.locator("img")
        image.scroll_into_view_if_needed()
        assert len(image.get_attribute("alt").strip()) > 10
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        credit = figure.locator(".sample-credit").inner_text()
        assert "public domain" in credit or "CC0" in credit or "CC BY" in credit, credit


def test_clicking_a_sample_captions_it(live_server, celery_worker, caption_version, page):
    page.goto(f"{live_server.url}/caption/")
    page.locator(".sample").first.click()
    page.wait_for_url("**/caption/*-*")
    page.locator(".word-chip").first.wait_for()
    assert page.locator("#caption-text").inner_text().strip()
