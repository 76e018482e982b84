"""Site-wide behaviour in headless Chromium: the navigation on a phone, error pages, History's times, the lab's
preset durations, and a walk over every page at phone and desktop sizes with no sideways scrolling."""
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from PIL import Image

from ml.lab.budget import estimated_seconds
from tests.support.http import get_json, post_image, post_json
from webapp.jobs.models import Job
from webapp.lab.forms import DEFAULTS, PRESETS

pytestmark = [pytest.mark.usefixtures("no_rate_limits"), pytest.mark.browser, pytest.mark.integration,
              pytest.mark.django_db(transaction=True)]

PHONES = [{"width": 390, "height": 844}, {"width": 360, "height": 740}]
DESKTOP = {"width": 1280, "height": 800}
# Against the screen's width, not innerWidth: a mobile browser widens its layout viewport to fit wide content.
SIDEWAYS = "width => document.documentElement.scrollWidth - width"


def phone(browser, viewport):
    context = browser.new_context(viewport=viewport, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def session_key(page):
    return next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")


# --- 1. the navigation on a phone ------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", PHONES, ids=lambda v: f"{v['width']}px")
def test_every_navigation_link_is_on_screen_on_a_phone(live_server, browser, viewport):
    context, page = phone(browser, viewport)
    try:
        page.goto(f"{live_server.url}/")
        links = page.locator(".nav-links a")
        assert links.count() >= 4
        for i in range(links.count()):
            link = links.nth(i)
            assert link.is_visible()
            box = link.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], link.inner_text()
            assert link.inner_text().strip()
        nav = page.locator(".nav-links")
        assert nav.get_by_role("link", name="History", exact=True).is_visible()
        assert nav.get_by_role("link", name="Lab", exact=True).is_visible()
        assert page.evaluate(SIDEWAYS, viewport["width"]) <= 0
        nav.get_by_role("link", name="History", exact=True).tap()
        page.wait_for_url("**/history/")
    finally:
        context.close()


def test_the_desktop_navigation_keeps_its_full_titles(live_server, page):
    page.goto(f"{live_server.url}/")
    assert page.locator(".nav-links").inner_text().split("\n")[:5] == [
        "Caption an image", "Guess the next word", "Translate", "Forecast", "Gradient lab"]


# --- 7. errors: friendly pages for people, JSON for /api/ --------------------------------------------------------

def test_a_wrong_permalink_shows_a_friendly_404_page(live_server, page):
    for path in (f"/caption/{uuid.uuid4()}", "/no-such-page/", f"/lab/{uuid.uuid4()}"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "Page not found"
        body = page.locator("body").inner_text()
        assert "URLconf" not in body and "api/jobs" not in body  # no list of URL patterns
        assert page.locator(".nav-links a").count() >= 4  # the site's own navigation, to find the way back
        assert page.get_by_role("link", name="Go to the home page").is_visible()


def test_every_api_path_answers_json_errors_included(live_server, page):
    cases = [("GET", f"/api/jobs/{uuid.uuid4()}", 404), ("GET", "/api/jobs/not-a-job-id", 404),
             ("GET", "/api/no-such-endpoint", 404), ("GET", "/api/next-word", 405), ("GET", "/api/captions", 405)]
    for method, path, status in cases:
        response = page.request.fetch(f"{live_server.url}{path}", method=method)
        assert response.status == status, path
        assert response.headers["content-type"].startswith("application/json"), path
        assert response.json()["error"], path
    assert "POST" in page.request.get(f"{live_server.url}/api/next-word").headers["allow"]
    assert "Not found" in page.request.get(f"{live_server.url}/api/jobs/not-a-job-id").json()["error"]


# --- 11. "just now" in History ---------------------------------------------------------------------------------

def test_history_says_just_now_for_a_result_from_the_last_minute(live_server, page):
    page.goto(f"{live_server.url}/lab/")
    key = session_key(page)
    config = {**DEFAULTS, "cells": ["lstm"], "distance": 8}
    now = timezone.now()
    Job.objects.create(kind=Job.Kind.LAB, status=Job.Status.SUCCEEDED, input={"config": config}, session_key=key,
                       finished_at=now)
    older = Job.objects.create(kind=Job.Kind.LAB, status=Job.Status.SUCCEEDED, input={"config": config},
                               session_key=key)
    Job.objects.filter(pk=older.pk).update(queued_at=now - timedelta(minutes=5))
    page.goto(f"{live_server.url}/history/")
    lines = [line.replace("\xa0", " ") for line in page.locator(".history-item .small").all_inner_texts()]
    assert any("just now" in line for line in lines), lines
    assert any("5 minutes ago" in line for line in lines), lines
    assert not any("0 minutes" in line for line in lines), lines


# --- 11. the lab's presets say how long they take here -----------------------------------------------------------

def wall_estimate(config, factor):
    cfg = {**DEFAULTS, **config}
    variants = 1 + bool(cfg["clip"]) + (cfg["tbptt"] is not None)
    raw = estimated_seconds(cfg["cells"], cfg["distance"], cfg["steps"], cfg["hidden"], cfg["batch"], variants,
                            cfg["sweep"])
    return max(1, round(raw * factor))


def preset_seconds(page, key):
    text = page.locator(f".preset[data-preset={key}] .preset-time").inner_text()
    return int(re.fullmatch(r"about (\d+) s", text).group(1))


def test_presets_state_their_duration_as_timed_on_this_server(live_server, page):
    page.goto(f"{live_server.url}/lab/")
    assert "no experiment has run on this server yet" in page.locator("#estimate").inner_text()
    for key in PRESETS:
        assert preset_seconds(page, key) >= 1

    # Two earlier experiments here took 1.9x and 2.1x the cost model's figure, click to result: median 2.0.
    now = timezone.now()
    for ratio in (1.9, 2.1):
        job = Job.objects.create(kind=Job.Kind.LAB, status=Job.Status.SUCCEEDED, finished_at=now,
                                 input={"config": DEFAULTS, "estimated_seconds": 10.0})
        Job.objects.filter(pk=job.pk).update(queued_at=now - timedelta(seconds=10.0 * ratio))
    page.reload()
    for key, preset in PRESETS.items():
        assert abs(preset_seconds(page, key) - wall_estimate(preset["config"], 2.0)) <= 1, key
    page.locator(".preset[data-preset=vanishing]").click()
    estimate = page.locator("#estimate").inner_text()
    assert "timed on the last 2 experiments on this server" in estimate
    assert f"about {preset_seconds(page, 'vanishing')} s" in estimate


# --- every page, at phone and desktop sizes, without sideways scrolling ---------------------------------------

def finished(url, wait_until):
    return wait_until(lambda: (lambda job: job if job and job["status"] in ("succeeded", "failed") else None)(
        get_json(url)[1]), timeout=90, message=url)


def make_results(live_server, wait_until, tmp_path, key):
    """One real result of each kind, made through the API by the real worker and given to the visitor's session."""
    urls = []
    status, lab = post_json(f"{live_server.url}/api/lab/experiments",
                            {"cells": ["rnn_tanh", "lstm"], "distance": 8, "steps": 30, "hidden": 16, "sweep": False})
    assert status == 202, lab
    assert finished(lab["url"], wait_until)["status"] == "succeeded"
    urls.append(lab["page_url"])

    photo = tmp_path / "wide.jpg"
    Image.new("RGB", (1600, 600), (90, 150, 220)).save(photo, "JPEG")  # a wide photo is the hardest to fit
    status, caption = post_image(f"{live_server.url}/api/captions", photo.read_bytes(), fields={"wait": "5"})
    assert status in (200, 202), caption
    assert finished(caption["url"], wait_until)["status"] == "succeeded"
    urls.append(caption["page_url"])

    status, sample = post_json(f"{live_server.url}/api/next-word/sample", {"text": "the market", "words": 40})
    assert status in (200, 202), sample
    sample_id = sample.get("id") or sample["job"]["id"]
    try:
        urls.append(live_server.url + reverse("nextword:result", args=[sample_id]))
    except NoReverseMatch:
        pass  # continuations have no page of their own in this build
    Job.objects.filter(kind__in=(Job.Kind.LAB, Job.Kind.CAPTION, Job.Kind.SAMPLE)).update(session_key=key)
    return urls


def test_no_page_scrolls_sideways_on_a_phone_or_needs_to_on_a_desktop(
        live_server, celery_worker, lm_version, caption_version, translate_versions, browser, wait_until, tmp_path):
    User.objects.create_superuser("boss", "boss@example.com", "s3cret-pass")
    context, page = phone(browser, PHONES[0])
    try:
        page.goto(f"{live_server.url}/")
        pages = [live_server.url + a for a in page.eval_on_selector_all(
            ".nav-links a", "links => links.map(a => a.getAttribute('href'))")]
        page.goto(f"{live_server.url}/lab/")  # a demo page gives the visitor a session, so History shows theirs
        pages += make_results(live_server, wait_until, tmp_path, session_key(page))
        pages += [f"{live_server.url}/", f"{live_server.url}/no-such-page/"]
        admin = ["/admin/", "/admin/registry/modelversion/", f"/admin/registry/modelversion/{lm_version.pk}/change/",
                 "/admin/training/trainingrun/start/", "/admin/training/dataset/add/"]

        page.goto(f"{live_server.url}/admin/login/")
        assert page.evaluate(SIDEWAYS, PHONES[0]["width"]) <= 0, "admin login"
        page.fill("#id_username", "boss")
        page.fill("#id_password", "s3cret-pass")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")

        too_wide = []
        for viewport in PHONES + [DESKTOP]:
            page.set_viewport_size(viewport)
            for url in pages + [live_server.url + path for path in admin]:
                page.goto(url)
                page.wait_for_load_state("load")
                page.wait_for_timeout(150)  # let scripts lay out charts and heatmaps
                overflow = page.evaluate(SIDEWAYS, viewport["width"])
                if overflow > 0:
                    too_wide.append(f"{url} scrolls {overflow} px sideways at {viewport['width']} px")
        assert not too_wide, "\n".join(too_wide)
    finally:
        context.close()
