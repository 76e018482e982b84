"""Who may see and do what in the training admin, and clear messages for bad datasets."""
import io
import zipfile

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.lm import tiny_lines
from webapp.jobs.models import Job
from webapp.registry import services as registry
from webapp.training.models import Dataset, TrainingRun

pytestmark = pytest.mark.django_db
START = "/admin/training/trainingrun/start/"


def corpus_bytes(lines=200):
    return "\n".join(tiny_lines(lines)).encode()


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", password="pw", is_staff=True)


@pytest.fixture
def trainer(db):
    user = User.objects.create_user("trainer", password="pw", is_staff=True)
    codenames = ["start_training", "view_trainingrun", "add_dataset", "view_dataset", "activate_modelversion",
                 "view_modelversion"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def run_form(dataset, **overrides):
    form = {"label": "Tiny GRU", "slot": "tiny-gru", "corpus": "dataset", "dataset": dataset.pk, "cell": "gru",
            "emsize": 16, "nhid": 16, "nlayers": 1, "dropout_emb": 0, "dropout_hid": 0, "dropout_out": 0,
            "tie_weights": "on", "init": "xavier", "bptt": 10, "clip": 0.25, "optimizer": "adam", "lr": 0.01,
            "schedule": "constant", "lr_decay": 0.25, "warmup_steps": 0, "weight_decay": 0, "ema": 0,
            "batch_size": 8, "epochs": 1, "patience": 3, "time_budget_min": 0, "threads": 1, "seed": 1}
    form.update(overrides)
    return form


@pytest.fixture
def text_dataset(db):
    from webapp.training import services

    return services.create_dataset("tiny", Dataset.Kind.TEXT, SimpleUploadedFile("tiny.txt", corpus_bytes()))


def test_anonymous_and_ordinary_users_are_sent_to_the_login_page(client, text_dataset):
    for user in (None, User.objects.create_user("visitor", password="pw")):
        if user:
            client.force_login(user)
        for url in (START, "/admin/training/dataset/add/", "/admin/registry/modelversion/"):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
        response = client.post(START, run_form(text_dataset))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Job.objects.exists()


def test_staff_without_the_permission_get_403_and_nothing_runs(client, staff, text_dataset):
    client.force_login(staff)
    assert client.get(START).status_code == 403
    assert client.post(START, run_form(text_dataset)).status_code == 403
    assert client.get("/admin/training/dataset/add/").status_code == 403
    version = registry.register("lm", "x", "X", "/nowhere")
    assert client.post(f"/admin/registry/modelversion/{version.pk}/activate/").status_code == 403
    assert not Job.objects.exists() and not ModelVersionActive()


def ModelVersionActive():
    from webapp.registry.models import ModelVersion

    return ModelVersion.objects.filter(is_active=True).exists()


def test_staff_with_the_permission_can_start_a_run(client, trainer, text_dataset):
    client.force_login(trainer)
    assert client.get(START).status_code == 200
    response = client.post(START, run_form(text_dataset))
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert run.job.queue == "training" and run.job.status == "queued"
    assert run.params["cell"] == "gru" and run.params["bptt"] == 10
    progress = client.get(f"/admin/training/trainingrun/{run.pk}/progress.json").json()
    assert progress["status"] == "queued"
    assert client.post(f"/admin/training/trainingrun/{run.pk}/cancel/").status_code == 302
    run.job.refresh_from_db()
    assert run.job.status == "cancelled"


def test_the_start_form_rejects_bad_hyper_parameters(client, trainer, text_dataset):
    client.force_login(trainer)
    response = client.post(START, run_form(text_dataset, lr=-1, bptt=0, cell="transformer"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"lr", "bptt", "cell"} <= set(errors)
    assert not Job.objects.exists()


def a_zip(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def a_jpeg():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, "JPEG")
    return out.getvalue()


BAD_DATASETS = {
    "empty file": ("text", "corpus.txt", b"", "file is empty"),
    "binary file": ("text", "corpus.txt", bytes(range(256)) * 50, "binary file"),
    "not utf-8": ("text", "corpus.txt", ("caf\xe9 au lait\n" * 40).encode("latin-1"), "not valid UTF-8"),
    "too short": ("text", "corpus.txt", b"one line\ntwo lines\n", "at least 20"),
    "zip without captions": ("captions", "set.zip", a_zip({"Images/a.jpg": a_jpeg()}), "no captions file"),
    "captions naming missing images": ("captions", "set.zip",
                                       a_zip({"captions.txt": "image,caption\na.jpg,a dog\nb.jpg,a cat\n",
                                              "Images/a.jpg": a_jpeg()}), "1 of the 2 captioned images are missing"),
    "not a zip": ("captions", "set.zip", b"PK but not really", "not a valid .zip"),
    "unsafe zip path": ("captions", "set.zip", a_zip({"../evil.txt": "x", "captions.txt": "image,caption\n"}),
                        "unsafe path"),
}


@pytest.mark.parametrize("name", BAD_DATASETS)
def test_bad_datasets_are_refused_with_a_clear_message(client, trainer, name):
    kind, filename, data, message = BAD_DATASETS[name]
    client.force_login(trainer)
    response = client.post("/admin/training/dataset/add/",
                           {"name": name, "kind": kind, "file": SimpleUploadedFile(filename, data)})
    assert response.status_code == 200, "the form should be shown again with the error"
    assert message in response.content.decode()
    assert not Dataset.objects.exists()


def test_a_good_text_dataset_is_stored_with_its_report(client, trainer):
    client.force_login(trainer)
    response = client.post("/admin/training/dataset/add/",
                           {"name": "tiny", "kind": "text", "file": SimpleUploadedFile("c.txt", corpus_bytes())})
    assert response.status_code == 302
    report = Dataset.objects.get().report
    assert report["lines"] == 200 and report["vocabulary"] > 10


def test_a_caption_zip_in_kaggle_layout_is_accepted():
    from webapp.training.datasets import inspect_caption_zip

    report = inspect_caption_zip(a_zip({"captions.txt": "image,caption\na.jpg,a dog runs\na.jpg,a dog plays\n",
                                        "Images/a.jpg": a_jpeg()}))
    assert report == {"kind": "captions", "bytes": report["bytes"], "images": 1, "captions": 2,
                      "captions_file": "captions.txt"}


def test_rollback_reactivates_the_previous_version(client, trainer):
    first = registry.register("lm", "s", "First", "/a", activate_now=True)
    second = registry.register("lm", "s", "Second", "/b")
    client.force_login(trainer)
    client.post(f"/admin/registry/modelversion/{second.pk}/activate/")
    assert registry.active_version("lm", "s") == second
    client.post(f"/admin/registry/modelversion/{second.pk}/rollback/")
    assert registry.active_version("lm", "s") == first
    response = client.post("/admin/registry/modelversion/", {"action": "compare", "_selected_action": [first.pk, second.pk]})
    assert response.status_code == 200 and b"compare-table" in response.content


def test_target_perplexity_and_mid_epoch_validation_reach_the_run(client, trainer, text_dataset):
    client.force_login(trainer)
    assert client.post(START, run_form(text_dataset, target_ppl=-1, validate_every=-5)).status_code == 200
    assert not TrainingRun.objects.exists()
    response = client.post(START, run_form(text_dataset, target_ppl=40, validate_every=5, dropout_weight=0.2))
    assert response.status_code == 302
    params = TrainingRun.objects.get().params
    assert (params["target_ppl"], params["validate_every"], params["dropout_weight"]) == (40, 5, 0.2)
    # Left out, they are off rather than missing.
    TrainingRun.objects.all().delete()
    client.post(START, run_form(text_dataset))
    params = TrainingRun.objects.get().params
    assert (params["target_ppl"], params["validate_every"], params["dropout_weight"]) == (0, 0, 0)


def test_run_log_names_mid_epoch_validations_and_warnings():
    from webapp.training.services import ProgressRecorder

    partial = ProgressRecorder.log_line({"event": "epoch", "epoch": 2, "step": 500, "valid_ppl": 130.2,
                                         "best_valid_ppl": 130.2, "tokens_per_s": 900.0, "partial": True})
    assert "step 500 (epoch 2): validation perplexity 130.20" in partial
    end = ProgressRecorder.log_line({"event": "epoch", "epoch": 2, "step": 830, "valid_ppl": 125.0,
                                     "best_valid_ppl": 125.0, "tokens_per_s": 900.0})
    assert "epoch 2 done" in end
    assert "note: bf16 requested" in ProgressRecorder.log_line({"event": "warning", "message": "bf16 requested"})
    assert "target_reached" in ProgressRecorder.log_line({"event": "done", "status": "target_reached",
                                                          "best_valid_ppl": 120.0})


def caption_form(dataset, **overrides):
    form = {"label": "My photos", "slot": "my-photos", "dataset": dataset.pk, "embed_dim": 16, "hidden_dim": 16,
            "attention_dim": 16, "proj_dim": 16, "dropout": 0, "tie_weights": "on", "min_freq": 1, "max_words": 20,
            "fine_tune_blocks": 0, "batch_images": 4, "lr": 4e-4, "encoder_lr": 1e-4, "clip": 5, "alpha_c": 1,
            "label_smoothing": 0.1, "epochs": 1, "patience": 3, "early_stop_metric": "cider", "val_beam": 1,
            "time_budget_min": 0, "threads": 1, "seed": 1}
    form.update(overrides)
    return form


def test_caption_form_passes_mirroring_and_self_critical_settings(client, trainer):
    from webapp.training import services

    zipped = a_zip({"captions.txt": "image,caption\na.jpg,a dog runs\nb.jpg,a cat sits\nc.jpg,a man walks\n",
                    "Images/a.jpg": a_jpeg(), "Images/b.jpg": a_jpeg(), "Images/c.jpg": a_jpeg()})
    dataset = services.create_dataset("photos", Dataset.Kind.CAPTIONS, SimpleUploadedFile("p.zip", zipped))
    client.force_login(trainer)
    url = START + "?kind=caption"
    assert "Self-critical" in client.get(url).content.decode()
    response = client.post(url, caption_form(dataset, fine_tune_blocks=2, flip_prob=0.5, scst_top_p=0,
                                             early_stop_metric="meteor"))
    errors = response.context["form"].errors
    assert response.status_code == 200
    assert {"flip_prob", "scst_top_p", "early_stop_metric"} <= set(errors)
    assert not TrainingRun.objects.exists()
    response = client.post(url, caption_form(dataset, flip_prob=0.5, scst_epochs=3, scst_lr=1e-5, scst_top_p=0.8,
                                             early_stop_metric="bleu4+cider"))
    assert response.status_code == 302
    params = TrainingRun.objects.get().params
    assert (params["flip_prob"], params["scst_epochs"], params["scst_lr"], params["scst_top_p"]) == (0.5, 3, 1e-5, 0.8)
    assert params["early_stop_metric"] == "bleu4+cider"
    # Left out, they take the trainer's defaults: no mirroring, no SCST.
    TrainingRun.objects.all().delete()
    client.post(url, caption_form(dataset))
    params = TrainingRun.objects.get().params
    assert (params["flip_prob"], params["scst_epochs"], params["scst_top_p"]) == (0.0, 0, 0.9)


def test_a_caption_runs_command_reproduces_every_setting(client, trainer):
    """The command shown for a captioner run parses with train_captioner into the run's own settings."""
    import shlex

    from ml.caption.train import CaptionConfig
    from ml.training.cli import from_options
    from webapp.captions.management.commands.train_captioner import Command
    from webapp.training import services

    zipped = a_zip({"captions.txt": "image,caption\na.jpg,a dog runs\nb.jpg,a cat sits\nc.jpg,a man walks\n",
                    "Images/a.jpg": a_jpeg(), "Images/b.jpg": a_jpeg(), "Images/c.jpg": a_jpeg()})
    dataset = services.create_dataset("photos", Dataset.Kind.CAPTIONS, SimpleUploadedFile("p.zip", zipped))
    client.force_login(trainer)
    form = caption_form(dataset, flip_prob=0.25, scst_epochs=3, scst_lr=1e-5, early_stop_metric="bleu4",
                        time_budget_min=30, threads=2, val_beam=2, clip=1.5, alpha_c=0.5, max_words=16)
    del form["tie_weights"]                       # an unticked box
    assert client.post(START + "?kind=caption", form).status_code == 302
    run = TrainingRun.objects.get()
    argv = shlex.split(services.command_for(run))
    assert argv[:3] == ["python", "manage.py", "train_captioner"]
    options = vars(Command().create_parser("manage.py", "train_captioner").parse_args(argv[3:]))
    cfg = from_options(CaptionConfig, options, defaults=Command.defaults())
    for name, value in run.params.items():
        assert getattr(cfg, name) == value, name
    assert cfg.tie_weights is False and cfg.epochs == 1 and cfg.early_stop_metric == "bleu4"
    assert cfg.run_dir == run.run_dir and cfg.data_dir == run.dataset.folder
    assert cfg.train_split.endswith("splits/train.txt") and cfg.val_split.endswith("splits/val.txt")
    assert cfg.export_dir == str(services.export_dir_for(run))


def test_a_language_model_runs_command_reproduces_every_setting(client, trainer, text_dataset):
    """The command shown for an LM run parses with train_lm into the settings the worker trains with."""
    import shlex

    from ml.lm.train import LMConfig
    from ml.training.cli import from_options
    from webapp.nextword.management.commands.train_lm import Command
    from webapp.training import services

    client.force_login(trainer)
    assert client.post(START, run_form(text_dataset, time_budget_min=5, bf16="on")).status_code == 302
    run = TrainingRun.objects.get()
    argv = shlex.split(services.command_for(run))
    assert argv[:3] == ["python", "manage.py", "train_lm"]
    cfg = from_options(LMConfig, vars(Command().create_parser("manage.py", "train_lm").parse_args(argv[3:])))
    assert all(getattr(cfg, name) == value for name, value in run.params.items())
    worker_cfg, _ = services.lm_task(run)
    assert cfg == LMConfig(**{**vars(worker_cfg), "log_every": cfg.log_every, "command": "", "resume": False})


@pytest.mark.parametrize("form_class, fieldsets", [("StartRunForm", "START_FIELDSETS"),
                                                    ("StartCaptionRunForm", "CAPTION_FIELDSETS"),
                                                    ("StartTranslateRunForm", "TRANSLATE_FIELDSETS")])
def test_every_start_form_field_is_in_exactly_one_section(form_class, fieldsets):
    from webapp.training import forms

    names = [name for _, section, _ in getattr(forms, fieldsets) for name in section]
    assert sorted(names) == sorted(getattr(forms, form_class)().fields)


def test_the_start_form_folds_advanced_settings_and_opens_the_one_with_an_error(client, trainer, text_dataset):
    client.force_login(trainer)
    page = client.get(START).content.decode()
    assert '<details class="module advanced-settings" id="section-optimisation">' in page   # folded: no `open`
    assert 'id="run-estimate"' in page and "Choose the data" in page     # no dataset is chosen yet
    page = client.post(START, run_form(text_dataset, lr=-1)).content.decode()
    assert '<details class="module advanced-settings" id="section-optimisation" open>' in page
    assert '<details class="module advanced-settings" id="section-machine">' in page


def estimate(client, text_dataset, **overrides):
    form = {**run_form(text_dataset), **overrides}
    return client.get("/admin/training/trainingrun/start/estimate.json", form).json()


def test_the_estimate_scales_with_epochs_and_size_and_states_its_basis(client, trainer, text_dataset):
    client.force_login(trainer)
    one, three = estimate(client, text_dataset, epochs=1), estimate(client, text_dataset, epochs=3)
    assert three["seconds"] == pytest.approx(3 * one["seconds"], rel=0.01)
    assert "× 3 epochs" in three["text"] and "no run has finished on this machine yet" in three["text"]
    big = estimate(client, text_dataset, emsize=650, nhid=650, nlayers=2, cell="lstm")
    assert big["seconds"] > one["seconds"]
    ptb = estimate(client, text_dataset, corpus="ptb", dataset="", epochs=1, emsize=650, nhid=650, nlayers=2,
                   cell="lstm")
    assert "930k tokens × 1 epoch at ~1,021 tokens/s" in ptb["text"]   # the benchmark figure for that very size
    assert estimate(client, text_dataset, dataset="")["seconds"] is None         # the dataset is still to choose
    budget = estimate(client, text_dataset, corpus="ptb", epochs=10, emsize=650, nhid=650, nlayers=2, time_budget_min=30)
    assert budget["seconds"] == 30 * 60 and "30-minute time budget" in budget["text"]


def test_the_estimate_uses_this_machine_s_finished_runs(client, trainer, text_dataset):
    from webapp.training import services

    run = services.start_run(params=run_form(text_dataset, emsize=16, nhid=16), slot="s", label="L",
                             dataset=text_dataset)
    run.history = [{"event": "step", "step": s, "tokens_per_s": 5000.0} for s in (10, 20, 30)]
    run.save()
    Job.objects.filter(pk=run.job.pk).update(status="succeeded")
    client.force_login(trainer)
    same = estimate(client, text_dataset, emsize=16, nhid=16, epochs=2)
    assert f"at ~5,000 tokens/s (measured in run {run.pk} for this size)" in same["text"]
    other = estimate(client, text_dataset, emsize=64, nhid=64, epochs=2)
    assert f"scaled by arithmetic per token from run {run.pk}" in other["text"]
    assert other["seconds"] > same["seconds"]


def test_arithmetic_per_token_matches_the_benchmark_s_accounting():
    """docs/benchmarks.md: a 64×35-token step of the 2×650 LSTM, 10k vocabulary, is ~178 GFLOP."""
    from webapp.training.services import lm_flops_per_token

    flops = lm_flops_per_token({"cell": "lstm", "emsize": 650, "nhid": 650, "nlayers": 2, "tie_weights": True},
                               10_000)
    assert flops * 64 * 35 == pytest.approx(178e9, rel=0.01)


def test_caption_estimate_counts_training_images_only(client, trainer):
    from webapp.training import services

    zipped = a_zip({"captions.txt": "image,caption\na.jpg,a dog runs\nb.jpg,a cat sits\nc.jpg,a man walks\n",
                    "Images/a.jpg": a_jpeg(), "Images/b.jpg": a_jpeg(), "Images/c.jpg": a_jpeg()})
    dataset = services.create_dataset("photos", Dataset.Kind.CAPTIONS, SimpleUploadedFile("p.zip", zipped))
    client.force_login(trainer)
    form = caption_form(dataset, epochs=4, kind="caption")
    answer = client.get("/admin/training/trainingrun/start/estimate.json", form).json()
    assert "1 image × 4 epochs at ~15.0 images/s" in answer["text"] and "docs/benchmarks.md" in answer["text"]


# ---- translators: parallel text datasets and the translator start form ----------------------------------------

def tsv_bytes(pairs=120):
    from tests.support.translate import toy_pairs

    return "\n".join(f"{s}\t{t}" for s, t in toy_pairs(pairs)).encode()


def two_files(pairs=120):
    from tests.support.translate import toy_pairs

    rows = toy_pairs(pairs)
    return "\n".join(s for s, _ in rows).encode(), "\n".join(t for _, t in rows).encode()


BAD_PARALLEL = {
    "misaligned files": (lambda: (two_files()[0], two_files(100)[1]),
                         "the English file has 120 lines and the translation file 100"),
    "a sentence on one side only": (lambda: (two_files()[0], two_files()[1].replace(b"\n", b"\n\n", 1)[:-40]),
                                    "nothing on the other"),
    "binary translation file": (lambda: (two_files()[0], bytes(range(256)) * 40), "translation file looks like a "
                                                                                    "binary file"),
    "not utf-8": (lambda: (("caf\xe9\n" * 60).encode("latin-1"), two_files()[1]), "not valid UTF-8"),
    "huge line": (lambda: (two_files()[0].replace(b"\n", b" " + b"x" * 1200 + b"\n", 1), two_files()[1]),
                  "longer than 1,000 characters"),
    "tsv without tabs": (lambda: (b"one sentence\n" * 60, None), "exactly two tab-separated columns"),
    "too few pairs": (lambda: (tsv_bytes(10), None), "at least 50 are needed"),
}


@pytest.mark.parametrize("name", BAD_PARALLEL)
def test_bad_parallel_datasets_are_refused_with_the_reason(client, trainer, name):
    make, message = BAD_PARALLEL[name]
    source, target = make()
    files = {"file": SimpleUploadedFile("set.tsv" if target is None else "set.en", source)}
    if target is not None:
        files["target_file"] = SimpleUploadedFile("set.de", target)
        files["file"] = SimpleUploadedFile("set.txt", source)
    client.force_login(trainer)
    response = client.post("/admin/training/dataset/add/", {"name": name, "kind": "parallel", **files})
    assert response.status_code == 200, "the form should be shown again with the error"
    assert message in response.content.decode()
    assert not Dataset.objects.exists()


@pytest.mark.parametrize("layout", ["tsv", "two files"])
def test_a_good_parallel_dataset_is_stored_with_its_report(client, trainer, layout):
    client.force_login(trainer)
    if layout == "tsv":
        files = {"file": SimpleUploadedFile("pairs.tsv", tsv_bytes())}
    else:
        source, target = two_files()
        files = {"file": SimpleUploadedFile("pairs.txt", source), "target_file": SimpleUploadedFile("de.txt", target)}
    response = client.post("/admin/training/dataset/add/", {"name": "toy", "kind": "parallel", **files})
    assert response.status_code == 302
    report = Dataset.objects.get().report
    assert report["pairs"] == 120 and report["layout"] == layout and report["examples"][0]["source"]


def translate_form(**overrides):
    form = {"label": "Toy · en-de", "slot": "en-de-mine", "corpus": "multi30k", "attention": "general",
            "emb_dim": 32, "enc_hidden": 32, "dec_hidden": 64, "input_feed": "on", "tie_weights": "on",
            "src_vocab": 100, "tgt_vocab": 100, "dropout": 0.1, "label_smoothing": 0.1, "batch_size": 32,
            "lr": 0.01, "warmup_steps": 5, "clip": 1.0, "ema": 0, "epochs": 2, "patience": 3, "time_budget_min": 0,
            "threads": 1, "seed": 1}
    form.update(overrides)
    return form


def test_a_translator_run_s_command_reproduces_every_setting(client, trainer):
    """The command shown for a translator run parses with train_translator into the worker's settings."""
    import shlex

    from ml.training.cli import from_options
    from ml.translate.train import TranslateConfig
    from webapp.training import services
    from webapp.translate.management.commands.train_translator import Command

    source, target = two_files()
    dataset = services.create_dataset("toy", Dataset.Kind.PARALLEL, SimpleUploadedFile("a.txt", source),
                                      target=SimpleUploadedFile("b.txt", target))
    client.force_login(trainer)
    response = client.post(START + "?kind=translate", translate_form(corpus="dataset", dataset=dataset.pk,
                                                                     attention="none", bf16="on"))
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = TrainingRun.objects.get()
    assert run.kind == "translate" and run.params["target"] == "de" and run.params["input_feed"] is True
    argv = shlex.split(services.command_for(run))
    assert argv[:3] == ["python", "manage.py", "train_translator"]
    cfg = from_options(TranslateConfig, vars(Command().create_parser("manage.py", "train_translator")
                                              .parse_args(argv[3:])))
    worker_cfg, _ = services.translate_task(run)
    assert cfg == TranslateConfig(**{**vars(worker_cfg), "log_every": cfg.log_every, "command": "", "resume": False})
    assert cfg.train_source.endswith(".txt") and cfg.attention == "none" and cfg.slot == "en-de-mine"


@pytest.mark.parametrize("changes,field,message", [
    ({"slot": "de-en"}, "slot", "Start with the pair"),
    ({"corpus": "dataset"}, "dataset", "Choose the uploaded parallel text dataset"),
    ({"dropout": 2}, "dropout", "less than or equal to 0.9"),
])
def test_the_translator_form_names_what_is_wrong(client, trainer, changes, field, message):
    client.force_login(trainer)
    response = client.post(START + "?kind=translate", translate_form(**changes))
    assert response.status_code == 200 and message in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_the_translator_estimate_counts_pairs_and_epochs(client, trainer):
    client.force_login(trainer)
    body = client.get("/admin/training/trainingrun/start/estimate.json?kind=translate&corpus=multi30k&epochs=10"
                      "&batch_size=128").json()
    assert "29k sentence pairs × 10 epochs" in body["text"] and "rough" in body["text"]
    assert body["seconds"] == pytest.approx(29000 * 10 / 130, rel=0.01)


# --- forecasters ----------------------------------------------------------------------------------------------

def series_csv(n=200):
    from tests.support.forecast import csv_text, seasonal_values

    return csv_text(seasonal_values(n)).encode()


BAD_SERIES = {
    "not a csv": ("sales.xlsx", b"PK\x03\x04" + bytes(200), "a .csv file"),
    "text column": ("sales.csv", b"name\n" + b"\n".join(b"row %d" % i for i in range(60)), "No numeric column"),
    "a missing value": ("sales.csv", series_csv().replace(b",", b",x", 1).replace(b"month,xvalue", b"month,value"),
                        None),
    "dates out of order": ("sales.csv", b"\n".join(series_csv().split(b"\n")[:1] + series_csv().split(b"\n")[1:][::-1]),
                           "goes back in time"),
    "too short": ("sales.csv", b"\n".join(series_csv().split(b"\n")[:20]), "at least 30"),
}


@pytest.mark.parametrize("name", [n for n in BAD_SERIES if BAD_SERIES[n][2]])
def test_bad_series_datasets_are_refused_with_the_reason(client, trainer, name):
    filename, content, message = BAD_SERIES[name]
    client.force_login(trainer)
    response = client.post("/admin/training/dataset/add/",
                           {"name": name, "kind": "series", "file": SimpleUploadedFile(filename, content)})
    assert response.status_code == 200 and message in response.content.decode()
    assert not Dataset.objects.exists()


def test_a_good_series_dataset_is_stored_with_its_report(client, trainer):
    client.force_login(trainer)
    response = client.post("/admin/training/dataset/add/",
                           {"name": "sales", "kind": "series", "file": SimpleUploadedFile("sales.csv", series_csv())})
    assert response.status_code == 302
    report = Dataset.objects.get().report
    assert report == {"kind": "series", "points": 200, "column": "value", "frequency": "monthly", "season": 12,
                      "first": "2000-01-01", "last": "2016-08-01",
                      "split": "the last 20 % tests, the 15 % before it validates, the rest trains"}


def forecast_form(**overrides):
    form = {"label": "Sales · GRU", "slot": "sales-gru", "corpus": "co2", "column": "", "horizon": 12, "season": -1,
            "cell": "gru", "hidden": 16, "layers": 1, "context": 0, "dropout": 0.1, "weight_decay": 1e-4,
            "batch_size": 64, "lr": 3e-3, "clip": 1.0, "epochs": 5, "patience": 5, "min_gain": 0.03, "ema": 0.98,
            "time_budget_min": 0.1, "threads": 1, "seed": 0}
    form.update(overrides)
    return form


def test_a_forecaster_run_s_command_reproduces_every_setting(client, trainer):
    """The command shown for a forecaster run parses with train_forecaster into the worker's settings."""
    import shlex

    from ml.forecast.train import ForecastConfig
    from ml.training.cli import from_options
    from webapp.forecast.management.commands.train_forecaster import Command
    from webapp.training import services

    dataset = services.create_dataset("sales", Dataset.Kind.SERIES, SimpleUploadedFile("sales.csv", series_csv()))
    client.force_login(trainer)
    response = client.post(START + "?kind=forecast", forecast_form(corpus="dataset", dataset=dataset.pk))
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = TrainingRun.objects.get()
    assert run.kind == "forecast" and run.params["horizon"] == 12 and run.params["cell"] == "gru"
    argv = shlex.split(services.command_for(run))
    assert argv[:3] == ["python", "manage.py", "train_forecaster"]
    cfg = from_options(ForecastConfig, vars(Command().create_parser("manage.py", "train_forecaster")
                                              .parse_args(argv[3:])))
    worker_cfg, _ = services.forecast_task(run)
    assert cfg == ForecastConfig(**{**vars(worker_cfg), "log_every": cfg.log_every, "command": "", "resume": False})
    assert cfg.csv.endswith(".csv") and cfg.slot == "sales-gru" and not cfg.series


@pytest.mark.parametrize("changes,field,message", [
    ({"corpus": "dataset"}, "dataset", "Choose the uploaded time series dataset"),
    ({"horizon": 0}, "horizon", "greater than or equal to 1"),
    ({"corpus": "ftse"}, "corpus", "Select a valid choice"),
])
def test_the_forecaster_form_names_what_is_wrong(client, trainer, changes, field, message):
    client.force_login(trainer)
    response = client.post(START + "?kind=forecast", forecast_form(**changes))
    assert response.status_code == 200 and message in response.content.decode()
    assert not TrainingRun.objects.exists()
