"""Training runs on a real worker: success registers a version, cancel stops fast, a killed worker fails the run."""
import signal
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.lm import tiny_lines
from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.registry import services as registry
from webapp.training import services
from webapp.training.models import Dataset, TrainingRun

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SMALL = {"cell": "gru", "emsize": 16, "nhid": 16, "nlayers": 1, "dropout_emb": 0.0, "dropout_hid": 0.0,
         "dropout_out": 0.0, "tie_weights": True, "init": "xavier", "bptt": 10, "clip": 0.25, "optimizer": "adam",
         "lr": 0.01, "schedule": "constant", "lr_decay": 0.25, "warmup_steps": 0, "weight_decay": 0.0, "ema": 0.0,
         "batch_size": 8, "epochs": 1, "patience": 3, "time_budget_min": 0.0, "bf16": False, "threads": 1, "seed": 1}


def dataset(lines):
    data = "\n".join(tiny_lines(lines)).encode()
    return services.create_dataset("tiny", Dataset.Kind.TEXT, SimpleUploadedFile("tiny.txt", data))


def finished(run_id):
    run = TrainingRun.objects.select_related("job").get(pk=run_id)
    return run if run.job.is_finished else None


def test_a_run_registers_a_version_that_serves_after_activation(celery_worker, wait_until, live_server):
    run = services.start_run(params=SMALL, slot="tiny-gru", label="Tiny GRU", dataset=dataset(200))
    run = wait_until(lambda: finished(run.pk), timeout=120, message="the training run to end")
    assert run.job.status == Job.Status.SUCCEEDED, run.job.error
    assert run.job.progress["fraction"] == pytest.approx(1.0)
    assert any(e["event"] == "epoch" for e in run.history), [e["event"] for e in run.history]
    version = run.model_version
    assert version is not None and not version.is_active and version.source == "trained"
    assert version.metrics["valid_ppl"] > 1

    registry.activate(version)
    job = jobs.wait_for_job(jobs.create_job(Job.Kind.NEXT_WORD, {"text": "the cat", "k": 3, "model": "tiny-gru"},
                                            model_version=version).pk, 20)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert len(job.result["suggestions"]) == 3


def cancel_once_running(run, wait_until):
    """Cancel ``run`` once it reports progress; it must stop within 10 s, cancelled -> the finished run."""
    wait_until(lambda: (TrainingRun.objects.get(pk=run.pk).job.progress or {}).get("step"), timeout=60,
               message="the run to report progress")
    asked = time.monotonic()
    jobs.cancel(run.job)
    run = wait_until(lambda: finished(run.pk), timeout=15, interval=0.1, message="the run to stop")
    assert time.monotonic() - asked < 10
    assert run.job.status == Job.Status.CANCELLED
    return run


def test_cancel_stops_a_run_within_seconds_and_keeps_its_checkpoint(celery_worker, wait_until):
    params = {**SMALL, "epochs": 200, "nhid": 64, "emsize": 64}
    run = cancel_once_running(services.start_run(params=params, slot="long", label="Long", dataset=dataset(3000)),
                              wait_until)
    assert (Path(run.run_dir) / "last").is_dir(), "a cancelled run keeps its last checkpoint"


def test_a_run_whose_worker_is_killed_fails_with_the_reason(start_worker, wait_until):
    queue = f"train-kill-{uuid.uuid4().hex[:6]}"
    doomed = start_worker(queues=queue)
    params = {**SMALL, "epochs": 200, "nhid": 64, "emsize": 64}
    run = services.start_run(params=params, slot="doomed", label="Doomed", dataset=dataset(3000), queue=queue)
    wait_until(lambda: (TrainingRun.objects.get(pk=run.pk).job.progress or {}).get("step"), timeout=60,
               message="the run to start")
    doomed.kill(signal.SIGKILL)
    start_worker(queues=f"idle-{uuid.uuid4().hex[:6]}")  # any live worker's sweeper notices
    run = wait_until(lambda: finished(run.pk), timeout=40, message="the run to be marked failed")
    assert run.job.status == Job.Status.FAILED
    assert "stopped responding" in run.job.error and "killed or crashed" in run.job.error


def test_a_captioner_run_on_an_uploaded_zip_registers_a_captioner_version(celery_worker, wait_until, tmp_path):
    import io
    import zipfile

    from tests.support.captions import synthetic_dataset

    root, names, captions = synthetic_dataset(tmp_path / "photos", n=12)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("my-photos/captions.txt", (root / "captions.txt").read_text())
        for name in names:
            archive.write(root / "Images" / name, f"my-photos/Images/{name}")
    dataset = services.create_dataset("my photos", Dataset.Kind.CAPTIONS, SimpleUploadedFile("p.zip", out.getvalue()))
    assert dataset.report["images"] == 12 and Path(dataset.folder, "captions.txt").exists()

    params = {"embed_dim": 16, "hidden_dim": 16, "attention_dim": 16, "proj_dim": 16, "dropout": 0.0,
              "min_freq": 1, "batch_images": 4, "epochs": 1, "val_beam": 1, "threads": 1, "seed": 1, "bf16": False}
    run = services.start_run(params=params, slot="my-photos", label="My photos", dataset=dataset, kind="caption")
    run = wait_until(lambda: finished(run.pk), timeout=180, message="the captioner run to end")
    assert run.job.status == Job.Status.SUCCEEDED, run.job.error
    assert run.model_version.kind == "caption" and "cider" in run.model_version.metrics
    assert run.job.result["status"] == "finished" and run.job.result["best"] is not None
    assert "CIDEr" in run.log
    assert Path(run.model_version.path).resolve().is_relative_to(Path(settings.VAR_DIR).resolve())


TRANSLATE_SMALL = {"target": "de", "attention": "general", "emb_dim": 32, "enc_hidden": 32, "dec_hidden": 64,
                   "input_feed": True, "tie_weights": True, "src_vocab": 100, "tgt_vocab": 100, "dropout": 0.0,
                   "label_smoothing": 0.1, "batch_size": 32, "lr": 0.01, "warmup_steps": 5, "clip": 1.0, "ema": 0.0,
                   "epochs": 3, "patience": 3, "time_budget_min": 0.0, "threads": 1, "bf16": False, "seed": 1}


def parallel_dataset(pairs):
    from tests.support.translate import toy_pairs

    data = "\n".join(f"{s}\t{t}" for s, t in toy_pairs(pairs)).encode()
    return services.create_dataset("toy pairs", Dataset.Kind.PARALLEL, SimpleUploadedFile("pairs.tsv", data))


def test_a_translator_run_registers_a_version_that_translates(celery_worker, wait_until, live_server):
    from tests.support.http import post_json

    run = services.start_run(params=TRANSLATE_SMALL, slot="en-de-mine", label="Toy translator", corpus="dataset",
                             dataset=parallel_dataset(600), kind="translate")
    run = wait_until(lambda: finished(run.pk), timeout=120, message="the translator run to end")
    assert run.job.status == Job.Status.SUCCEEDED, run.job.error
    epochs = [e for e in run.history if e["event"] == "epoch"]
    assert len(epochs) == 3 and all("bleu" in e["val"] for e in epochs)
    assert "validation BLEU" in run.log
    version = run.model_version
    assert version.kind == "translate" and version.metrics["bleu"] > 0 and not version.is_active

    registry.activate(version)
    status, body = post_json(f"{live_server.url}/api/translate", {"text": "A dog runs.", "model": "en-de-mine"})
    assert status == 200 and body["translation"] and body["model"]["slot"] == "en-de-mine", body


def test_a_translator_run_can_be_cancelled_and_keeps_its_checkpoint(celery_worker, wait_until):
    params = {**TRANSLATE_SMALL, "epochs": 200, "dec_hidden": 128}
    run = cancel_once_running(services.start_run(params=params, slot="en-de-long", label="Long", corpus="dataset",
                                                 dataset=parallel_dataset(3000), kind="translate"), wait_until)
    assert (Path(run.run_dir) / "last" / "weights.safetensors").is_file(), "a cancelled run keeps its checkpoint"


FORECAST_SMALL = {"horizon": 6, "season": -1, "cell": "gru", "hidden": 16, "layers": 1, "context": 0, "dropout": 0.1,
                  "weight_decay": 1e-4, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "epochs": 20, "patience": 20,
                  "time_budget_min": 0.1, "threads": 1, "seed": 0, "column": ""}


def test_a_forecaster_run_on_an_uploaded_series_registers_a_version_the_page_serves(celery_worker, wait_until,
                                                                                   live_server):
    from tests.support.forecast import csv_text, seasonal_values
    from tests.support.http import post_json

    data = csv_text(seasonal_values(240)).encode()
    dataset = services.create_dataset("sales", Dataset.Kind.SERIES, SimpleUploadedFile("sales.csv", data))
    run = services.start_run(params=FORECAST_SMALL, slot="sales-gru", label="Sales · GRU", corpus="dataset",
                             dataset=dataset, kind="forecast")
    run = wait_until(lambda: finished(run.pk), timeout=120, message="the forecaster run to end")
    assert run.job.status == Job.Status.SUCCEEDED, run.job.error
    epochs = [e for e in run.history if e["event"] == "epoch"]
    assert epochs and all("mae" in e["val"] for e in epochs) and "validation MAE" in run.log
    version = run.model_version
    assert version.kind == "forecast" and not version.is_active
    directory = registry.resolve_path(version)
    assert (directory / "series.csv").read_bytes() == data               # it keeps the series it forecasts
    import json
    backtest = json.loads((directory / "metrics.json").read_text())["backtest"]
    assert {"rnn", "naive", "seasonal_naive", "drift", "arima", "ets"} <= set(backtest)

    registry.activate(version)
    status, body = post_json(f"{live_server.url}/api/forecast", {"series": "sales", "horizon": 6, "cell": "gru"})
    assert status == 200, body
    assert body["model"]["slot"] == "sales-gru" and body["model"]["trained"] == "trained"
    assert body["future_index"][0] == "2020-01" and body["backtest"]["rnn"]["mae"] == backtest["rnn"]["mae"]
    status, body = post_json(f"{live_server.url}/api/forecast", {"series": "sales", "horizon": 7, "cell": "gru"})
    assert status == 400 and body["field"] == "horizon" and "do not forecast 7 steps" in body["error"]


def test_a_forecaster_run_can_be_cancelled_and_keeps_its_checkpoint(celery_worker, wait_until):
    params = {**FORECAST_SMALL, "epochs": 5000, "patience": 5000, "time_budget_min": 0, "hidden": 128}
    run = cancel_once_running(services.start_run(params=params, slot="co2-slow", label="Slow", corpus="co2",
                                                 kind="forecast"), wait_until)
    assert (Path(run.run_dir) / "last" / "weights.safetensors").is_file(), "a cancelled run keeps its checkpoint"
