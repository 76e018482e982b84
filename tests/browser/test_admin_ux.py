"""Issue #20's admin items, as a new member of staff meets them in a real browser: a header that says where they
are, activation and roll-back that say what they will do and ask first, readable training charts, and a start
form that estimates the run's duration and keeps the advanced settings folded away."""
import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from tests.support.lm import tiny_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, next_url="/admin/"):
    User.objects.create_superuser("boss", "boss@example.com", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "s3cret-pass")
    with page.expect_navigation():     # waits for the next page's load event, so its deferred scripts have run
        page.click("input[type=submit]")


def test_the_admin_header_says_unroll(live_server, page):
    log_in(page, live_server)
    expect(page.locator("#site-name")).to_have_text("Unroll admin")
    assert "Unroll admin" in page.title()


def test_rollback_names_its_target_asks_first_and_walks_back(live_server, page, screenshot):
    """The issue's scenario: v1, v2, v3 activated in turn; roll back twice lands on v1, not back on v3."""
    from webapp.registry import services

    v1, v2, v3 = [services.register("lm", "tiny", "Tiny GRU", f"/v{n}") for n in (1, 2, 3)]
    services.activate(v1)
    services.activate(v2)
    log_in(page, live_server, f"/admin/registry/modelversion/{v3.pk}/change/")

    page.click("#activate-version")
    expect(page.locator("#confirm-question")).to_have_text("Activate Tiny GRU v3?")
    expect(page.locator("#confirm-consequence")).to_contain_text("instead of Tiny GRU v2")
    assert services.active_version("lm", "tiny") == v2, "opening the confirmation must not activate"
    screenshot(page, "admin-activate-confirmation")
    page.click("#confirm-activate")
    page.locator(".messagelist").filter(has_text="now serves").wait_for()

    expect(page.locator("#rollback-version")).to_have_text(re.compile(r"Roll back to v2"))
    page.click("#rollback-version")
    expect(page.locator("#confirm-question")).to_contain_text("to Tiny GRU v2?")
    assert services.active_version("lm", "tiny") == v3
    page.click("#confirm-rollback")
    page.locator(".messagelist").filter(has_text="Tiny GRU v2 serves").wait_for()

    expect(page.locator("#rollback-version")).to_have_text(re.compile(r"Roll back to v1"))
    page.click("#rollback-version")
    page.click("#confirm-rollback")
    page.locator(".messagelist").filter(has_text="Tiny GRU v1 serves").wait_for()
    assert services.active_version("lm", "tiny") == v1

    expect(page.locator("#rollback-version")).to_have_count(0)
    expect(page.locator("#no-rollback")).to_contain_text("Nothing to roll back to")


def chart_texts(page, chart, selector):
    return [t.strip() for t in page.locator(f"#{chart} {selector}").all_text_contents()]


@pytest.mark.integration
def test_a_one_epoch_run_draws_named_axes_and_a_readable_validation_point(live_server, celery_worker, page,
                                                                          screenshot):
    from webapp.training import services

    dataset = services.create_dataset("tiny", "text", SimpleUploadedFile("c.txt", "\n".join(tiny_lines(300)).encode()))
    params = {"cell": "gru", "emsize": 16, "nhid": 16, "nlayers": 1, "epochs": 1, "batch_size": 8, "bptt": 5,
              "lr": 0.01, "threads": 1, "ema": 0.0}
    run = services.start_run(params=params, slot="tiny", label="Tiny GRU", dataset=dataset)
    log_in(page, live_server, f"/admin/training/trainingrun/{run.pk}/change/")
    page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    page.locator("#chart-loss .g-xtitle text").wait_for()
    screenshot(page, "admin-training-one-epoch-charts")

    for chart in ("chart-loss", "chart-grad"):
        for axis in (".g-xtitle", ".g-ytitle", ".g-y2title"):
            titles = chart_texts(page, chart, f"{axis} text")
            assert titles and all(titles), f"{chart} has no {axis} axis title"
    assert chart_texts(page, "chart-loss", ".g-xtitle text") == ["training step"]
    assert chart_texts(page, "chart-loss", ".g-y2title text") == ["validation perplexity"]
    # The single validation value is drawn as a marker carrying its value, not a lone dot with no scale.
    labels = chart_texts(page, "chart-loss", ".textpoint text")
    assert len(labels) == 1 and float(labels[0]) > 1
    drawn = page.locator("#chart-loss .scatterlayer .trace .point").count()
    assert drawn > 1, "the loss chart should draw more than the validation point"


def test_the_start_form_estimates_the_duration_and_folds_advanced_settings(live_server, page, screenshot):
    from webapp.training import services

    services.create_dataset("Tiny sentences", "text",
                            SimpleUploadedFile("c.txt", "\n".join(tiny_lines(300)).encode()))
    log_in(page, live_server, "/admin/training/trainingrun/start/")
    estimate = page.locator("#run-estimate")
    expect(estimate).to_contain_text("Choose the data")

    # The essentials are on show; the advanced settings are folded until their section is opened.
    expect(page.locator("#id_epochs")).to_be_visible()
    expect(page.locator("#id_nhid")).to_be_visible()
    for field in ("lr", "bptt", "dropout_emb", "threads"):
        expect(page.locator(f"#id_{field}")).to_be_hidden()

    page.select_option("#id_dataset", label="Tiny sentences")
    expect(estimate).to_contain_text("× 10 epochs")
    expect(estimate).to_contain_text("on this machine")
    expect(estimate).to_contain_text("tokens/s")
    page.fill("#id_epochs", "3")
    expect(estimate).to_contain_text("× 3 epochs")
    before = estimate.inner_text()
    page.fill("#id_nhid", "650")
    expect(estimate).not_to_have_text(before)
    screenshot(page, "admin-start-form-estimate")

    page.click("#section-optimisation > summary")
    expect(page.locator("#id_lr")).to_be_visible()
    expect(page.locator("#id_threads")).to_be_hidden()
    page.fill("#id_lr", "-1")
    page.click("#section-optimisation > summary")      # folded again before sending: the error must unfold it
    page.fill("#id_label", "Tiny GRU")
    page.fill("#id_slot", "tiny-gru")
    page.click("#start-run")
    page.locator(".errornote").wait_for()
    expect(page.locator("#id_lr")).to_be_visible()
    expect(page.locator(".field-lr .errorlist")).to_be_visible()
    expect(page.locator("#id_threads")).to_be_hidden()


def test_the_translator_start_form_switches_kind_and_estimates(live_server, page):
    log_in(page, live_server, "/admin/training/trainingrun/start/")
    page.click("text=Train a translator instead")
    expect(page.locator("h1")).to_have_text("Train a translator")
    expect(page.locator("#id_slot")).to_have_value("en-de")
    expect(page.locator("#id_attention")).to_be_visible()
    expect(page.locator("#id_ema")).to_be_hidden()
    estimate = page.locator("#run-estimate")
    expect(estimate).to_contain_text("sentence pairs × 25 epochs")
    page.fill("#id_epochs", "5")
    expect(estimate).to_contain_text("× 5 epochs")
    expect(page.locator(".start-kinds")).to_contain_text("Train a language model instead")
