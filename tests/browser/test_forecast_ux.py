"""The forecast pages in headless Chromium against a live server and a real worker: pick CO2 and see the chart
and the backtest table (the shipped model), upload a CSV and watch it train, a bad file's reason, phones."""
import json
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.support.forecast import csv_text, seasonal_values
from webapp.jobs.models import Job

pytestmark = [pytest.mark.usefixtures("no_rate_limits"), pytest.mark.browser, pytest.mark.integration,
              pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def co2_version(db):
    """The shipped CO2 LSTM, as `make run` installs it."""
    from webapp.registry import services

    directory = Path(settings.BASE_DIR) / "models" / "forecast-co2-lstm"
    return services.register("forecast", "co2-lstm", "Atmospheric CO2 · LSTM", directory,
                             config=json.loads((directory / "config.json").read_text()),
                             metrics=json.loads((directory / "metrics.json").read_text()), source="shipped",
                             activate_now=True)


def test_pick_co2_and_see_the_chart_the_table_and_the_verdict(live_server, celery_worker, co2_version, page,
                                                               screenshot):
    page.goto(f"{live_server.url}/forecast/")
    page.select_option("#series", "co2")
    expect(page.locator("#horizon")).to_have_value("52")
    expect(page.locator("#series-help")).to_contain_text("A shipped LSTM answers at once")
    page.click("#series-submit")
    expect(page.locator("#forecast-chart .main-svg").first).to_be_visible()
    rows = page.locator("#backtest-table tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("LSTM (this network)")
    expect(page.locator("#verdict")).to_contain_text("seasonal naive")
    expect(page.locator("#answer-model")).to_contain_text("shipped model")
    screenshot(page, "forecast-co2")
    permalink = page.locator("#permalink").get_attribute("href")
    page.goto(permalink if permalink.startswith("http") else live_server.url + permalink)
    expect(page.locator("#forecast-chart .main-svg").first).to_be_visible()
    expect(page.locator("#backtest-table tbody tr")).to_have_count(6)


def test_upload_a_csv_watch_it_train_and_see_its_forecast(live_server, celery_worker, page, tmp_path, screenshot):
    path = tmp_path / "monthly-sales.csv"
    path.write_text(csv_text(seasonal_values(240)))
    page.goto(f"{live_server.url}/forecast/")
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-horizon", "12")
    page.click("#upload-submit")
    expect(page.locator("#progress-bar")).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text("Training the network")
    expect(page.locator("#forecast-chart .main-svg").first).to_be_visible(timeout=90_000)
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#answer-model")).to_contain_text("trained for this request")
    expect(page.locator("#answer-title")).to_have_text("monthly-sales (value)")
    expect(page.locator("#backtest-table tbody tr").first).to_contain_text("LSTM")
    screenshot(page, "forecast-upload")
    job = Job.objects.get(kind="forecast")
    assert job.status == "succeeded" and job.input["name"] == "monthly-sales"
    expect(page.locator("#permalink")).to_have_attribute("href", f"/forecast/{job.pk}")


def test_a_bad_file_shows_its_reason_and_starts_nothing(live_server, page, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("name\n" + "\n".join(f"row {i}" for i in range(50)))
    page.goto(f"{live_server.url}/forecast/")
    page.set_input_files("#upload-file", str(path))
    page.click("#upload-submit")
    expect(page.locator("#upload-error")).to_contain_text("File: no numeric column")
    assert not Job.objects.exists()


def test_the_answer_fits_a_phone(live_server, celery_worker, forecast_version, browser, screenshot):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.goto(f"{live_server.url}/forecast/")
    phone.select_option("#series", "sunspots")
    phone.click("#series-submit")
    expect(phone.locator("#forecast-chart .main-svg").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(phone, "forecast-phone")
    context.close()
