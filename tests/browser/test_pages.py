"""The demos as a visitor uses them, in headless Chromium, against a live server and a real Celery worker."""
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
FLICKR = Path(os.environ.get("FLICKR8K_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "flickr8k"))


def a_photo(tmp_path):
    """A real Flickr8k photo when the shared data is there, else a drawn one."""
    images = FLICKR / "images"
    if images.is_dir():
        return next(iter(sorted(images.glob("*.jpg"))))
    path = tmp_path / "drawn.jpg"
    image = Image.new("RGB", (320, 240), (90, 150, 220))
    image.paste((40, 160, 60), (0, 160, 320, 240))
    image.save(path, "JPEG")
    return path


CANVAS_ALPHA = """() => {
    const c = document.getElementById('heatmap');
    if (!c.width || !c.height) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0; for (let i = 3; i < d.length; i += 4) sum += d[i]; return sum; }"""


def canvas_alpha(page):
    return page.evaluate(CANVAS_ALPHA)


def test_upload_shows_caption_beams_and_heatmap_and_permalink_works(
        live_server, celery_worker, caption_version, page, browser, screenshot, tmp_path):
    page.goto(f"{live_server.url}/caption/")
    page.set_input_files("#id_image", str(a_photo(tmp_path)))
    # The preview has a size (so counts as visible) only once the browser has decoded the chosen file.
    expect(page.locator("#preview")).to_be_visible()
    page.click("#caption-button")
    page.wait_for_url("**/caption/*-*")
    first_word = page.locator(".word-chip").first
    first_word.wait_for()
    caption = page.locator("#caption-text").inner_text().strip()
    assert caption and "<unk>" not in caption
    assert page.locator("#beams li").count() >= 1
    assert canvas_alpha(page) == 0
    page.wait_for_function("() => { const p = document.getElementById('photo'); return p.complete && p.naturalWidth; }")
    first_word.hover()
    assert canvas_alpha(page) > 0, "hovering a word should draw its attention map"
    assert "Tiny test captioner v" in page.locator(".facts").inner_text()
    screenshot(page, "caption-result")

    permalink = page.locator("#permalink").input_value()
    fresh = browser.new_context()
    try:
        other = fresh.new_page()
        held = []
        other.route("**/image.jpg", lambda route: held.append(route))  # the photo arrives only when the test lets it
        other.goto(permalink, wait_until="domcontentloaded")
        assert other.locator("#caption-text").inner_text().strip() == caption
        other.locator(".word-chip").first.hover()  # a word hovered before the photo has loaded …
        for _ in range(250):
            if held:
                break
            other.wait_for_timeout(20)
        assert held, "the result page never asked for its photo"
        assert canvas_alpha(other) == 0
        held[0].continue_()
        other.wait_for_function(f"() => ({CANVAS_ALPHA})() > 0")  # … gets its map once the photo is there
        screenshot(other, "caption-permalink-fresh-context")
    finally:
        fresh.close()


def test_typing_shows_suggestions_and_clicking_one_appends_it(live_server, celery_worker, lm_version, page,
                                                              screenshot):
    page.goto(f"{live_server.url}/next-word/")
    prompt = page.locator("#prompt")
    prompt.fill("")
    prompt.type("the cat sat on", delay=30)
    first = page.locator(".suggestion").first
    first.wait_for()
    assert page.locator(".suggestion").count() == 8
    word = first.get_attribute("data-word")
    first.click()
    assert prompt.input_value() == f"the cat sat on {word} "
    page.locator("#model-version").filter(has_text="Tiny test LSTM").wait_for()
    screenshot(page, "next-word-suggestions")


def test_continue_and_gate_inspector(live_server, celery_worker, lm_version, page, screenshot):
    page.goto(f"{live_server.url}/next-word/")
    page.click("#sample-button")
    page.locator(".continuation").wait_for()
    page.click("#inspect-button")
    page.locator(".gate-table").wait_for()
    assert page.locator(".gate-table td.gate").count() > 0
    screenshot(page, "next-word-gates")


def test_a_non_image_upload_shows_a_clear_error(live_server, celery_worker, caption_version, page, tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("this is not a photo")
    page.goto(f"{live_server.url}/caption/")
    page.set_input_files("#id_image", str(bogus))
    page.click("#caption-button")
    error = page.locator("#upload-error")
    error.filter(has_text="not an image").wait_for()
    assert page.url.endswith("/caption/")


def test_history_lists_the_visitors_caption(live_server, celery_worker, caption_version, page, tmp_path):
    page.goto(f"{live_server.url}/caption/")
    page.set_input_files("#id_image", str(a_photo(tmp_path)))
    page.click("#caption-button")
    page.locator(".word-chip").first.wait_for()
    caption = page.locator("#caption-text").inner_text().strip()
    page.goto(f"{live_server.url}/history/")
    assert caption in page.locator(".history").inner_text()
