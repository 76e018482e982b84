"""The gradient lab as a visitor uses it, in headless Chromium, against a live server and a real Celery worker."""
import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CHARTS = ["chart-grad", "chart-loss", "chart-acc", "chart-norm", "chart-sweep"]


def charts_drawn(page):
    return page.evaluate("ids => ids.filter(id => document.querySelector(`#${id} .main-svg .scatterlayer .trace`))",
                         CHARTS)


def test_a_preset_experiment_runs_and_draws_every_chart_and_its_permalink_redraws_them(
        live_server, celery_worker, page, browser, screenshot):
    page.goto(f"{live_server.url}/lab/")
    assert page.locator("h1").inner_text() == "Gradient lab"
    # The smallest preset (about two seconds): a naive-init ReLU RNN and its clipped twin.
    page.get_by_role("button", name=re.compile("^Exploding")).click()
    assert page.locator("#clip").is_checked() and page.locator("#init").input_value() == "naive"
    assert page.locator(".preset[aria-pressed=true]").count() == 1
    assert page.evaluate("document.activeElement.id") == "run-button"
    page.keyboard.press("Enter")  # the keyboard path: the preset moved focus to the Run button

    page.wait_for_selector("#lab[data-rendered=true]", timeout=60_000)
    assert re.search(r"/lab/[0-9a-f-]{36}$", page.url)
    assert charts_drawn(page) == CHARTS
    rows = page.locator("#summary tbody tr")
    assert rows.count() == 2
    assert "diverged (NaN)" in rows.nth(1).inner_text()  # the unclipped run blew up; its clipped twin did not
    assert "diverged" not in rows.nth(0).inner_text()
    assert page.locator("#run-text").inner_text().startswith("Done in")
    assert page.locator("input[name=when][value=init]").is_checked()  # naive init: the gradient at the start
    for figure in page.locator(".chart-card figcaption").all():
        assert len(figure.inner_text()) > 60  # every chart carries its explanation
    screenshot(page, "lab-exploding")
    page.set_viewport_size({"width": 390, "height": 844})
    # On a phone each run is a card of labelled values: nothing hidden behind a sideways scroller.
    assert page.evaluate("() => { const t = document.getElementById('summary');"
                         " return t.scrollWidth <= t.parentElement.clientWidth; }")
    label = page.evaluate("() => getComputedStyle(document.querySelector('#summary tbody td'), '::before').content")
    assert "Final accuracy" in label
    page.set_viewport_size({"width": 1280, "height": 900})

    permalink = page.locator("#permalink").input_value()
    assert permalink == page.url
    fresh = browser.new_context()
    try:
        other = fresh.new_page()
        other.goto(permalink)
        other.wait_for_selector("#lab[data-rendered=true]")
        assert charts_drawn(other) == CHARTS
        assert other.locator("#init").input_value() == "naive"
    finally:
        fresh.close()


def test_settings_the_server_refuses_show_a_clear_error(live_server, page):
    page.goto(f"{live_server.url}/lab/")
    page.fill("#distance", "1")
    page.click("#run-button")
    error = page.locator("#form-error")
    error.filter(has_text="from 2 to 200").wait_for()
    assert page.url.endswith("/lab/") and page.locator("#results").is_hidden()
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
