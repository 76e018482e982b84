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


# Item 1: phones

def assert_fits(page, viewport, what):
    """No sideways scrolling. A mobile browser widens its layout viewport (innerWidth) to fit content that is too
    wide and zooms out, so both widths are held to the screen's."""
    scroll_width, inner_width = page.evaluate(PAGE_WIDTHS)
    assert scroll_width <= inner_width <= viewport["width"], \
        f"{what} is {max(scroll_width, inner_width)} px wide on a {viewport['width']} px screen"


@pytest.mark.parametrize("viewport", PHONES)
def test_caption_pages_fit_a_phone_without_sideways_scrolling(browser, live_server, caption_url, viewport,
                                                              screenshot):
    context = browser.new_context(viewport=viewport, has_touch=True, is_mobile=True)
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}/caption/")
        phone.set_input_files("#id_image", str(a_real_photo()))
        expect(phone.locator("#preview")).to_be_visible()
        assert_fits(phone, viewport, "the upload page")
        screenshot(phone, f"caption-upload-{viewport['width']}")

        open_result(phone, caption_url)
        phone.locator(".word-chip").first.tap()
        assert_fits(phone, viewport, "the result page")
        screenshot(phone, f"caption-result-{viewport['width']}")
    finally:
        context.close()


# Item 3: the attention heatmap

def test_one_click_selects_a_word_and_keeps_its_map(page, caption_url):
    open_result(page, caption_url)
    chips = page.locator(".word-chip")
    first = chips.first
    assert pressed(page).count() == 0 and canvas_alpha(page) == 0, "no word is selected until the visitor picks one"

    first.click()
    page.mouse.move(0, 0)
    assert canvas_alpha(page) > 0, "a clicked word keeps its map after the pointer leaves"
    expect(first).to_have_attribute("aria-pressed", "true")
    selected_label = heatmap_label(page)
    assert first.inner_text() in selected_label

    first.click()
    assert canvas_alpha(page) > 0, "clicking the selected word again keeps its map"

    if chips.count() > 1:
        second = chips.nth(1)
        second.hover()
        assert heatmap_label(page) != selected_label or second.inner_text() == first.inner_text()
        page.mouse.move(0, 0)
        assert heatmap_label(page) == selected_label, "leaving a hovered word brings back the selected one"
        expect(first).to_have_attribute("aria-pressed", "true")

        second.focus()
        page.keyboard.press("Enter")
        page.mouse.move(0, 0)
        expect(second).to_have_attribute("aria-pressed", "true")
        expect(first).to_have_attribute("aria-pressed", "false")
        assert canvas_alpha(page) > 0


def test_one_tap_on_a_phone_shows_a_words_map_and_it_stays(browser, caption_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        phone = context.new_page()
        open_result(phone, caption_url)
        word = phone.locator(".word-chip").first
        word.tap()
        assert phone.evaluate(f"({CANVAS_ALPHA})()") > 0, "one tap shows the word's map"
        expect(word).to_have_attribute("aria-pressed", "true")
        label = heatmap_label(phone)
        phone.locator("#beams").tap()
        assert phone.evaluate(f"({CANVAS_ALPHA})()") > 0, "the map stays after tapping elsewhere"
        assert heatmap_label(phone) == label
    finally:
        context.close()


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
