"""The translate pages in headless Chromium against a live server and a real worker running toy translators:
type and see the translation, hover a row of the attention grid, switch off attention, the permalink, phones."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.translate import toy_pairs

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def scrolls_sideways(page):
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def test_typing_translates_and_a_row_lights_up_its_source(live_server, celery_worker, translate_versions, page,
                                                          screenshot):
    page.goto(f"{live_server.url}/translate/")
    translation = page.locator("#translation")
    expect(translation).not_to_be_empty()           # the first example is translated on arrival

    source, _ = toy_pairs(1, seed=3)[0]
    before = translation.inner_text()
    page.fill("#source-text", source)
    expect(translation).not_to_have_text(before)
    expect(page.locator("#served-by")).to_contain_text("Toy · with attention v1, beam 5")
    assert page.locator("#nbest li").count() == 5

    rows = page.locator("#attention-grid tbody tr")
    expect(rows.first).to_be_visible()
    columns = page.locator("#attention-grid thead th.src")
    assert columns.count() == rows.first.locator("td").count()
    rows.first.hover()
    expect(rows.first).to_have_class(re.compile(r"\bactive\b"))
    weights = [float(c.get_attribute("style").split(":")[1]) for c in rows.first.locator("td").all()]
    shaded = [float(page.evaluate("(el) => getComputedStyle(el).getPropertyValue('--w')", c.element_handle()))
              for c in columns.all()]
    assert shaded == pytest.approx(weights, abs=1e-3)    # the header shows the hovered row's attention
    strongest = max(range(len(weights)), key=weights.__getitem__)
    if weights[strongest] >= 0.15:
        expect(columns.nth(strongest)).to_have_class(re.compile(r"\blit\b"))
    screenshot(page, "translate-attention")

    page.check("input[name=attention][value=off]")
    expect(page.locator("#served-by")).to_contain_text("Toy · without attention")
    expect(page.locator("#attention")).to_contain_text("This model has no attention")

    page.fill("#beam", "11")
    expect(page.locator("#source-error")).to_have_text("Beam: must be at most 10.")
    page.fill("#beam", "2")
    expect(page.locator("#source-error")).to_be_hidden()
    expect(page.locator("#served-by")).to_contain_text("beam 2")

    # The scores table and the BLEU-by-length chart come from each model's stored test figures.
    expect(page.locator("#model-scores tbody tr")).to_have_count(2)
    expect(page.locator("#length-chart .scatterlayer .trace")).to_have_count(2)


def test_the_permalink_shows_the_translation_and_its_attention(live_server, celery_worker, translate_versions, page):
    page.goto(f"{live_server.url}/translate/")
    page.locator(".example").nth(1).click()
    expect(page.locator("#source-text")).to_have_value("Two children are playing football in the park.")
    link = page.locator("#served-by a", has_text="permalink")
    expect(link).to_be_visible()
    translation = page.locator("#translation").inner_text()
    link.click()
    expect(page.locator("#result-translation")).to_have_text(translation)
    expect(page.locator("#result-source")).to_have_text("Two children are playing football in the park.")
    expect(page.locator("#attention-grid tbody tr").first).to_be_visible()


def test_the_page_fits_a_phone(live_server, celery_worker, translate_versions, browser, screenshot):
    context = browser.new_context(viewport=PHONE)
    phone = context.new_page()
    phone.goto(f"{live_server.url}/translate/")
    phone.locator(".example").last.click()
    expect(phone.locator("#attention-grid tbody tr").first).to_be_attached()
    assert not scrolls_sideways(phone)
    screenshot(phone, "translate-phone")
    context.close()


def test_without_models_the_page_says_so(live_server, page):
    page.goto(f"{live_server.url}/translate/")
    expect(page.locator(".notice")).to_contain_text("No translation model is installed yet")


def test_a_caption_is_offered_in_german_and_the_permalink_keeps_it(live_server, celery_worker, caption_version,
                                                                  translate_versions, page):
    from tests.support.http import jpeg

    response = page.request.post(f"{live_server.url}/api/captions", multipart={
        "image": {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}, "wait": "10"})
    body = response.json()
    assert response.status == 200 and body["status"] == "succeeded", body
    page.goto(body["page_url"])
    languages = page.locator("#caption-languages")
    expect(languages.locator("dt")).to_have_text(["German"])          # no French model is installed
    page.click("button.translate-caption[data-target=de]")
    german = languages.locator("dd[data-target=de] .caption-translation")
    expect(german).not_to_be_empty()
    translated = german.inner_text()

    page.reload()                                                       # stored with the caption: the permalink
    expect(languages.locator("dd[data-target=de] .caption-translation")).to_have_text(translated)
    expect(languages.locator("button.translate-caption")).to_have_count(0)


def test_the_failure_examples_are_offered_and_translated(live_server, celery_worker, translate_versions, page):
    from webapp.translate.pages import FAILURES

    page.goto(f"{live_server.url}/translate/")
    expect(page.locator(".example.failure")).to_have_count(len(FAILURES))
    expect(page.locator("#translation")).not_to_be_empty()
    before = page.locator("#translation").inner_text()
    page.locator(".example.failure").first.click()
    expect(page.locator("#source-text")).to_have_value(FAILURES[0])
    expect(page.locator("#source-text")).to_be_in_viewport()
    expect(page.locator("#translation")).not_to_have_text(before)
