"""Staff retrain a model in the admin and the next-word page serves it."""
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.support.lm import tiny_lines

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_staff_upload_train_activate_and_the_demo_serves_it(live_server, celery_worker, page, screenshot, tmp_path):
    User.objects.create_superuser("boss", "boss@example.com", "s3cret-pass")
    corpus = tmp_path / "tiny-corpus.txt"
    corpus.write_text("\n".join(tiny_lines(300)))

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/training/dataset/add/")
    page.fill("#id_name", "Tiny sentences")
    page.select_option("#id_kind", "text")
    page.set_input_files("#id_file", str(corpus))
    page.click("input[name=_save]")
    page.locator("#result_list").get_by_text("300 lines").wait_for()

    page.goto(f"{live_server.url}/admin/training/trainingrun/start/")
    page.fill("#id_label", "Tiny GRU")
    page.fill("#id_slot", "tiny-gru")
    page.select_option("#id_dataset", label="Tiny sentences")
    page.select_option("#id_cell", "gru")
    page.click("#section-optimisation > summary")      # batch size, BPTT and learning rate are folded away
    page.click("#section-machine > summary")
    for field, value in {"emsize": "16", "nhid": "16", "nlayers": "1", "epochs": "1", "batch_size": "8",
                         "bptt": "5", "lr": "0.01", "threads": "1"}.items():
        page.fill(f"#id_{field}", value)
    page.click("#start-run")

    page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    assert page.locator("#run-percent").inner_text() == "100%"
    expect(page.locator("#cancel-run")).to_be_hidden()
    page.locator("#chart-loss .main-svg").first.wait_for()
    screenshot(page, "admin-training-run")

    page.click("#version-link")
    page.click("#activate-version")
    page.click("#confirm-activate")
    page.locator(".messagelist").filter(has_text="now serves").wait_for()

    page.goto(f"{live_server.url}/next-word/")
    page.select_option("#model", "tiny-gru")
    page.locator("#model-version").filter(has_text="Tiny GRU v1").wait_for()
    assert page.locator(".suggestion").count() > 0
    screenshot(page, "next-word-serves-new-version")


def test_staff_cancel_a_run_from_its_progress_page(live_server, celery_worker, page, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.training import services

    User.objects.create_superuser("boss", "boss@example.com", "s3cret-pass")
    dataset = services.create_dataset("big", "text", SimpleUploadedFile("c.txt", "\n".join(tiny_lines(3000)).encode()))
    params = {"cell": "lstm", "emsize": 64, "nhid": 64, "nlayers": 1, "epochs": 200, "batch_size": 8, "bptt": 10,
              "threads": 1, "ema": 0.0}
    run = services.start_run(params=params, slot="long", label="Long run", dataset=dataset)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/training/trainingrun/{run.pk}/change/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.locator("#run-status").filter(has_text="running").wait_for(timeout=60_000)
    page.click("#cancel-run")
    page.locator("#run-status").filter(has_text="cancelled").wait_for(timeout=10_000)
