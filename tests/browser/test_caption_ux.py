"""What a new visitor hits on the caption pages (issue 20), in headless Chromium against a live server and a real
Celery worker: phone widths, selecting a word's attention map by click or tap, the upload form's limit and
state, keyboard focus on the drop zone, and sample photos from the model's own world."""
import os
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from webapp.captions import samples
from webapp.core.middleware import too_large_message

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


# Item 4: the upload form's limit and state

def count_caption_posts(page):
    posts = []

    def count(route):
        if route.request.method == "POST":
            posts.append(route.request.url)
        route.continue_()

    page.route("**/api/captions", count)
    page.on("request", lambda request: request.method == "POST" and "/api/captions" not in request.url
            and posts.append(request.url))
    return posts


def test_a_refused_file_clears_the_preview_and_is_never_sent(live_server, celery_worker, caption_version, page,
                                                             tmp_path):
    posts = count_caption_posts(page)
    page.goto(f"{live_server.url}/caption/")
    page.set_input_files("#id_image", str(a_real_photo()))
    expect(page.locator("#preview")).to_be_visible()

    huge = oversized_file(tmp_path)
    page.set_input_files("#id_image", str(huge))
    expect(page.locator("#upload-error")).to_have_text(too_large_message(huge.stat().st_size))
    expect(page.locator("#preview")).to_be_hidden()
    assert page.locator("#id_image").evaluate("input => input.files.length") == 0

    page.click("#caption-button")
    page.wait_for_timeout(500)
    assert posts == [], "a refused file (or the photo chosen before it) was sent"
    expect(page.locator("#upload-error")).to_have_text(too_large_message(huge.stat().st_size))

    page.set_input_files("#id_image", str(a_real_photo()))
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#upload-error")).to_be_hidden()
    page.click("#caption-button")
    page.wait_for_url("**/caption/*-*")
    assert len(posts) == 1


@pytest.mark.parametrize("megabytes", [None, 22.6], ids=["just-over", "issue-22.6MB"])
def test_an_oversized_file_is_refused_in_the_page_with_the_servers_words(live_server, caption_version, page,
                                                                         tmp_path, megabytes):
    huge = oversized_file(tmp_path, megabytes)
    page.goto(f"{live_server.url}/caption/")
    page.set_input_files("#id_image", str(huge))
    in_page = page.locator("#upload-error").inner_text()

    response = page.request.post(f"{live_server.url}/api/captions", multipart={"image": multipart_image(huge)})
    assert response.status == 413, "an oversized upload is refused before the server reads it"
    assert response.json()["error"] == in_page == too_large_message(huge.stat().st_size)
    assert f"the limit is {settings.MAX_UPLOAD_MB} MB." in in_page


def test_the_upload_limit_is_stated_once(live_server, caption_version, page):
    page.goto(f"{live_server.url}/caption/")
    text = page.locator("main").inner_text()
    assert text.count(" MB") == 1 and f"up to {settings.MAX_UPLOAD_MB} MB" in text


def test_keyboard_focus_on_the_drop_zone_is_visible(live_server, page):
    page.goto(f"{live_server.url}/caption/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "id_image":
            break
    else:
        pytest.fail("Tab never reached the file input")
    outline = page.locator("#dropzone").evaluate(
        "zone => { const s = getComputedStyle(zone); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
    assert outline[0] != "none" and outline[1] > 0, f"the focused drop zone has no visible outline: {outline}"


def test_a_bad_beam_names_the_field_as_a_person_reads_it(live_server, caption_version, page):
    response = page.request.post(f"{live_server.url}/api/captions",
                                 multipart={"image": multipart_image(a_real_photo()), "beam": "11"})
    assert response.status == 400
    assert response.json() == {"error": "Beam width: must be between 1 and 10.", "field": "beam"}


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
