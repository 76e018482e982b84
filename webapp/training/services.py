"""Datasets in, model versions out: the one place that turns an admin form into a training job and a finished
run into a registered (not yet active) model version."""
import json
import logging
import math
import shlex
import time
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from webapp.jobs import services as jobs
from webapp.jobs.models import Job
from webapp.registry import services as registry

from .datasets import DatasetInvalid, inspect_caption_folder, inspect_upload
from .models import Dataset, TrainingRun

logger = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 1.0


def data_roots():
    return [Path(p) for p in settings.TRAINING_DATA_ROOTS]


def create_dataset(name, kind, uploaded=None, folder="", user=None, target=None):
    """Validate, then store (``target``: a parallel dataset's translation file). Raises DatasetInvalid with a
    message for the form."""
    if uploaded is None and not folder:
        raise DatasetInvalid("Upload a file or name a folder on the server.")
    if uploaded is not None:
        data = uploaded.read()
        target_data = target.read() if target is not None else None
        report = inspect_upload(kind, uploaded.name, data, (target.name, target_data) if target else None)
        dataset = Dataset(name=name, kind=kind, report=report, created_by=user)
        dataset.file.save(Path(uploaded.name).name, ContentFile(data), save=False)
        if target is not None:
            dataset.target_file.save(Path(target.name).name, ContentFile(target_data), save=False)
    else:
        if kind != Dataset.Kind.CAPTIONS:
            raise DatasetInvalid("Server folders are for caption datasets; upload text corpora as .txt files.")
        report = inspect_caption_folder(folder, data_roots())
        dataset = Dataset(name=name, kind=kind, folder=report["folder"], report=report, created_by=user)
    dataset.save()
    extract_caption_zip(dataset)
    return dataset


def extract_caption_zip(dataset):
    """Unpack an uploaded caption .zip next to it, once, so training reads it as a folder (paths checked on upload)."""
    import zipfile

    if dataset.kind != Dataset.Kind.CAPTIONS or not dataset.file or dataset.folder:
        return dataset
    target = Path(settings.MEDIA_ROOT) / "datasets" / "extracted" / str(dataset.pk)
    with zipfile.ZipFile(dataset.file.path) as archive:
        archive.extractall(target)
    # The captions file may sit in a sub-folder of the zip: train from the folder that holds it.
    captions = next((p for name in ("captions.txt", "Flickr8k.token.txt", "dataset_*.json")
                     for p in sorted(target.rglob(name))), None)
    root = captions.parent.parent if captions and captions.parent.name == "Flickr8k_text" else (
        captions.parent if captions else target)
    Dataset.objects.filter(pk=dataset.pk).update(folder=str(root))
    dataset.folder = str(root)
    return dataset


def corpus_spec(run):
    if run.corpus == "dataset":
        return f"text:{run.dataset.file.path}"
    return run.corpus


@transaction.atomic
def start_run(*, params, slot, label, corpus="dataset", dataset=None, user=None, queue=None, kind="lm"):
    """Queue a training run (kind 'lm', 'caption', 'translate' or 'forecast') on the `training` queue (or another, e.g. a GPU
    machine's)."""
    if kind == "caption":
        if dataset is None or dataset.kind != Dataset.Kind.CAPTIONS:
            raise DatasetInvalid("Choose a caption dataset.")
        corpus = "dataset"
    elif kind == "translate":
        if corpus == "dataset" and (dataset is None or dataset.kind != Dataset.Kind.PARALLEL):
            raise DatasetInvalid("Choose a parallel text dataset, or the Multi30k corpus.")
        if corpus not in ("dataset", "multi30k"):
            raise DatasetInvalid("A translator trains on Multi30k or an uploaded parallel text dataset.")
    elif kind == "forecast":
        from ml.forecast.data import BUILTIN

        if corpus == "dataset" and (dataset is None or dataset.kind != Dataset.Kind.SERIES):
            raise DatasetInvalid("Choose a time series dataset, or one of the bundled series.")
        if corpus != "dataset" and corpus not in BUILTIN:
            raise DatasetInvalid(f"A forecaster trains on a bundled series ({', '.join(BUILTIN)}) or an uploaded "
                                 "time series dataset.")
    elif corpus == "dataset" and (dataset is None or dataset.kind != Dataset.Kind.TEXT):
        raise DatasetInvalid("Choose a text dataset, or the PTB, Shakespeare or Wikipedia corpus.")
    job = jobs.create_job(Job.Kind.TRAIN, {"params": params, "slot": slot, "kind": kind}, owner=user, queue=queue)
    run = TrainingRun.objects.create(job=job, kind=kind, corpus=corpus,
                                     dataset=dataset if corpus == "dataset" else None,
                                     slot=slot, label=label, params=params, started_by=user)
    run.run_dir = str(Path(settings.VAR_DIR) / "runs" / f"run-{run.pk}-{job.pk.hex[:8]}")
    run.save(update_fields=["run_dir"])
    return run


def export_dir_for(run) -> Path:
    """Where a run's model is exported (either kind)."""
    return Path(settings.VAR_DIR) / "models" / f"{run.slot}-run{run.pk}"


def split_file_for(run, name: str) -> Path:
    """A captioner run's own split list ("train", "val" or "test"), written when the run starts."""
    return Path(run.run_dir) / "splits" / f"{name}.txt"


def command_for(run):
    """The shell command that reproduces this run."""
    options = " ".join(f"--{key.replace('_', '-')} {shlex.quote(str(value))}" for key, value in run.params.items())
    where = f"--run-dir {run.run_dir} --export-dir {export_dir_for(run)}"
    if run.kind == "translate":
        return (f"python manage.py train_translator {translate_data_options(run)} {options} --slot {run.slot} "
                f"--label {shlex.quote(run.label)} {where}")
    if run.kind == "forecast":
        return (f"python manage.py train_forecaster {forecast_data_options(run)} {options} --slot {run.slot} "
                f"--label {shlex.quote(run.label)} {where}")
    if run.kind == "caption":
        return (f"python manage.py train_captioner --data-dir {shlex.quote(run.dataset.folder)} {options} "
                f"--train-split {split_file_for(run, 'train')} --val-split {split_file_for(run, 'val')} {where}")
    return (f"python manage.py train_lm --corpus {shlex.quote(corpus_spec(run))} {options} "
            f"--slot {run.slot} --label {shlex.quote(run.label)} {where}")


class ProgressRecorder:
    """on_progress callback: keeps every event in the run's history, writing to the database at most once a
    second (and at every epoch end), so a fast run does not hammer the database."""

    def __init__(self, run, ctx):
        self.run, self.ctx, self.last_write = run, ctx, 0.0
        self.latest = {"fraction": 0.0}

    def __call__(self, event):
        event = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in event.items() if k != "history"}
        self.run.history.append(event)
        if event.get("total_steps"):
            self.latest.update({k: event.get(k) for k in ("epoch", "step", "total_steps", "loss", "ppl",
                                                          "tokens_per_s", "elapsed_s") if event.get(k) is not None})
            self.latest["fraction"] = min(1.0, event.get("step", 0) / event["total_steps"])
        if event.get("valid_ppl"):
            self.latest["valid_ppl"] = event["valid_ppl"]
        if isinstance(event.get("val"), dict):  # captioner, translator, forecaster: validation after each epoch
            self.latest.update({f"val_{k}": event["val"][k] for k in ("bleu4", "cider", "bleu", "chrf", "mae")
                                if k in event["val"]})
        if event.get("event") == "epoch" and not event.get("total_steps"):
            # A forecaster's epochs are seconds long and early stopping ends it: the time budget is its scale.
            self.latest.update({k: event[k] for k in ("epoch", "step", "elapsed_s") if event.get(k) is not None})
            budget = (self.run.params.get("time_budget_min") or 0) * 60
            if budget and event.get("elapsed_s") is not None:
                self.latest["fraction"] = min(0.99, event["elapsed_s"] / budget)
        if event.get("event") == "done" and event.get("status") in ("finished", "early_stopped", "target_reached"):
            self.latest["fraction"] = 1.0
        line = self.log_line(event)
        if line:
            self.run.log += line + "\n"
        now = time.monotonic()
        if event.get("event") in ("epoch", "done", "resumed") or now - self.last_write >= PROGRESS_EVERY_SECONDS:
            self.flush()
            self.last_write = now

    @staticmethod
    def log_line(event):
        stamp = time.strftime("%H:%M:%S")
        kind = event.get("event")
        if kind == "epoch" and isinstance(event.get("val"), dict) and "mae" in event["val"]:
            val = event["val"]
            return (f"{stamp} epoch {event['epoch']} done: validation MAE {val['mae']:.4g}, interval holds "
                    f"{val['coverage']:.0%} (best MAE {event['best']:.4g})")
        if kind == "epoch" and isinstance(event.get("val"), dict) and "bleu" in event["val"]:
            val = event["val"]
            where = f"step {event['step']} (epoch {event['epoch']})" if event.get("partial") else \
                f"epoch {event['epoch']} done"
            return (f"{stamp} {where}: validation BLEU {val['bleu']:.2f}, chrF {val['chrf']:.2f} "
                    f"(greedy; best {event['best']:.2f})")
        if kind == "epoch" and isinstance(event.get("val"), dict):
            val = event["val"]
            return (f"{stamp} epoch {event['epoch']} done: validation BLEU-4 {val.get('bleu4', 0):.4f}, "
                    f"CIDEr {val.get('cider', 0):.4f}, {val.get('distinct_words', '?')} distinct words")
        if kind == "epoch":
            where = f"step {event['step']} (epoch {event['epoch']})" if event.get("partial") else \
                f"epoch {event['epoch']} done"
            return (f"{stamp} {where}: validation perplexity {event['valid_ppl']:.2f} "
                    f"(best {event['best_valid_ppl']:.2f}), {event.get('tokens_per_s') or 0:.0f} tokens/s")
        if kind == "warning":
            return f"{stamp} note: {event['message']}"
        if kind == "resumed":
            return f"{stamp} resumed from the last checkpoint at step {event['step']}"
        if kind == "done" and "best_valid_ppl" not in event:
            return f"{stamp} {event['status']}: best validation score {event.get('best', 0):.4f}"
        if kind == "done":
            best = event.get("best_valid_ppl")
            return f"{stamp} {event['status']}" + (f": best validation perplexity {best:.2f}" if best else "")
        return None

    def flush(self):
        TrainingRun.objects.filter(pk=self.run.pk).update(history=self.run.history, log=self.run.log)
        self.ctx.report(**self.latest)


def run_training(job, ctx):
    """Worker handler for a training job: train the run's task, then register its exported best model as a new
    (inactive) version."""
    import os

    import torch

    from ml.training.run import CANCELLED, DIVERGED

    run = TrainingRun.objects.select_related("dataset").get(job=job)
    cfg, train = TASKS[run.kind](run)
    # "0 threads" in the form means all cores; the pool process goes back to its inference setting afterwards.
    cfg.threads = cfg.threads or os.cpu_count() or 1
    inference_threads = torch.get_num_threads()
    recorder = ProgressRecorder(run, ctx)
    try:
        outcome = train(cfg, on_progress=recorder, should_stop=ctx.should_stop)
    except ValueError as exc:   # the ml code raises ValueError for the user's settings or data
        raise jobs.JobError(str(exc)) from None
    finally:
        recorder.flush()
        torch.set_num_threads(inference_threads)
    if outcome["status"] == CANCELLED:
        raise jobs.JobCancelled()
    if outcome["status"] == DIVERGED:
        raise jobs.JobError("Training diverged (the loss became infinite or NaN). Lower the learning rate or the "
                            "gradient-clipping norm and try again.")
    if not outcome["export_dir"]:
        raise jobs.JobError("Training ended before any validation pass, so there is no checkpoint to keep.")
    target = Path(outcome["export_dir"])
    metrics = json.loads((target / "metrics.json").read_text())
    metrics.update(metrics.pop("val", None) or {})  # validation scores at the top level, to compare versions
    version = registry.register(run.kind, run.slot, run.label, target,
                                config=json.loads((target / "config.json").read_text()),
                                metrics={k: v for k, v in metrics.items() if not isinstance(v, (list, dict))},
                                command=command_for(run), source="trained")
    TrainingRun.objects.filter(pk=run.pk).update(model_version=version)
    return {"status": outcome["status"], "best": outcome["best"], "epochs": outcome["epoch"],
            "train_wall_s": outcome["elapsed_s"], "model_version": version.as_dict()}


def run_settings(run) -> dict:
    """The settings every task's config takes from the run itself."""
    return {"run_dir": run.run_dir, "export_dir": str(export_dir_for(run)), "command": command_for(run),
            "resume": (Path(run.run_dir) / "last").exists()}   # a retried job continues where it stopped


def lm_task(run):
    from ml.lm.train import LMConfig, train

    # Log often enough that even a one-minute run draws a curve in the admin.
    values = {"log_every": 10, **run.params, "corpus": corpus_spec(run), "slot": run.slot, "label": run.label}
    return checked_config(LMConfig, {**values, **run_settings(run)}), train


def caption_task(run):
    from ml.caption.data import load_dataset, make_splits
    from ml.caption.train import CaptionConfig, train

    try:
        _, captions = load_dataset(run.dataset.folder)
    except (OSError, ValueError) as exc:
        raise jobs.JobError(f"Cannot read the dataset: {exc}") from None
    names = sorted(captions)
    if len(names) < 3:
        raise jobs.JobError(f"The dataset has {len(names)} captioned images; at least 3 are needed.")
    held_out = min(500, max(1, len(names) // 10))
    splits = make_splits(names, n_val=held_out, n_test=held_out, seed=run.params.get("seed", 8))
    for name, items in splits.items():
        path = split_file_for(run, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(items) + "\n")
    values = {**run.params, "data_dir": run.dataset.folder, "train_split": str(split_file_for(run, "train")),
              "val_split": str(split_file_for(run, "val")),
              "cache_root": str(Path(settings.VAR_DIR) / "cache" / "caption-features")}
    return checked_config(CaptionConfig, {**values, **run_settings(run)}), train


def translate_data_options(run) -> str:
    """The data options of a translator run: Multi30k, or the dataset's TSV or its two aligned files."""
    if run.corpus != "dataset":
        return ""
    if run.dataset.target_file:
        return (f"--train-source {shlex.quote(run.dataset.file.path)} "
                f"--train-target {shlex.quote(run.dataset.target_file.path)}")
    return f"--train-pairs {shlex.quote(run.dataset.file.path)}"


def translate_task(run):
    from ml.translate.train import TranslateConfig, train

    values = {"log_every": 10, **run.params, "slot": run.slot, "label": run.label}
    if run.corpus == "dataset":
        if run.dataset.target_file:
            values.update(train_source=run.dataset.file.path, train_target=run.dataset.target_file.path)
        else:
            values["train_pairs"] = run.dataset.file.path
    return checked_config(TranslateConfig, {**values, **run_settings(run)}), train


def forecast_data_options(run) -> str:
    """A forecaster run's series: a bundled one by name, or the dataset's CSV."""
    if run.corpus == "dataset":
        return f"--csv {shlex.quote(run.dataset.file.path)} --name {series_name(run.dataset)}"
    return f"--series {run.corpus}"


def series_name(dataset) -> str:
    """What the forecast page and API call an uploaded series: its dataset's name as a slug (the stored file's
    name may carry a suffix the storage added)."""
    from django.utils.text import slugify

    return slugify(dataset.name) or f"series-{dataset.pk}"


def forecast_task(run):
    from ml.forecast.evaluate import train_and_record
    from ml.forecast.train import ForecastConfig

    values = {"log_every": 10, **run.params, "slot": run.slot, "label": run.label}
    if run.corpus == "dataset":
        values.update(csv=run.dataset.file.path, name=series_name(run.dataset))
    else:
        values["series"] = run.corpus
    return checked_config(ForecastConfig, {**values, **run_settings(run)}), train_and_record


def checked_config(config_class, values):
    try:
        return config_class.from_dict(values).validate()
    except (TypeError, ValueError) as exc:
        raise jobs.JobError(f"Bad hyper-parameters: {exc}") from None


TASKS = {"lm": lm_task, "caption": caption_task, "translate": translate_task, "forecast": forecast_task}  # kind -> (config, train)


# --- How long will a run take? -------------------------------------------------------------------------------
# The start form shows an estimate before anything is queued: the training tokens (or images) per epoch × epochs
# ÷ a throughput, measured from this machine's own finished runs where there are any, else a documented
# benchmark figure. Each estimate says which of the two it rests on.

PTB_TRAIN_TOKENS = 929_589                  # the standard Mikolov training split, <eos> included
# Shakespeare is split 90/5/5 by lines; its 64,890 validation tokens (models/lm-shakespeare-lstm/metrics.json)
# are 5 %, so the training split is about 18 times that.
SHAKESPEARE_TRAIN_TOKENS = 18 * 64_890
WIKI_TRAIN_TOKENS = 732_496                 # ml.lm.corpus.wiki: the train articles, <eos> included
WIKI_VOCAB = 22_889                         # its vocabulary: train words seen at least twice, plus specials
TEXT_TRAIN_FRACTION = 0.9                   # ml.lm.corpus.text_file: first 90 % of lines train
MAX_VOCAB = 10_000                          # ml.lm.corpus caps every vocabulary at this size
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}

# Without a finished run on this machine: docs/benchmarks.md, machine B (AVX2, float32, idle), where
# bench/lm_train_speed.py measured 1,021 tokens/s for the 2×650 LSTM, 10k vocabulary, batch 64. Per token that
# model costs 79.6 MFLOP (lm_flops_per_token), so the CPU delivered ~81 GFLOP/s of training arithmetic.
BENCH_LM_TOKENS_PER_S = 1_021
BENCH_LM_MODEL = {"cell": "lstm", "emsize": 650, "nhid": 650, "nlayers": 2, "tie_weights": True}
# Small models are bound by per-step overhead rather than arithmetic: never promise more than the fastest
# small-model training docs/benchmarks.md reports (vanilla RNN 2×256, 12,738 tokens/s).
BENCH_LM_MAX_TOKENS_PER_S = 12_738
# docs/benchmarks.md, captioner: ~3.3 min per epoch of 6,091 images with bf16 on cached features, float32 ~2×
# slower: about 15 images/s for the 512-wide decoder.
BENCH_CAPTION_IMAGES_PER_S = 15.0
RECENT_RUNS = 20                            # how far back to look for measured throughput


def lm_flops_per_token(params, vocabulary):
    """Training arithmetic per token (forward + backward ≈ 3× the forward multiply-adds ×2): the recurrent
    layers' gate matrices plus the output softmax, which dominate an RNN language model's cost."""
    gates = GATES.get(params.get("cell"), 4)
    emsize, nhid, nlayers = int(params.get("emsize") or 0), int(params.get("nhid") or 0), int(params.get("nlayers") or 1)
    tied = params.get("tie_weights", True)
    flops = 0
    for layer in range(nlayers):
        inputs = emsize if layer == 0 else nhid
        outputs = emsize if (tied and layer == nlayers - 1) else nhid     # ml.lm.model: a tied last layer
        flops += gates * (inputs + outputs) * outputs
    flops += (emsize if tied else nhid) * vocabulary                      # the decoder
    return 6 * flops


def lm_corpus_size(corpus, dataset):
    """(training tokens per epoch, vocabulary) of a corpus choice, or None when a dataset is still to be chosen."""
    if corpus == "ptb":
        return PTB_TRAIN_TOKENS, MAX_VOCAB
    if corpus == "shakespeare":
        return SHAKESPEARE_TRAIN_TOKENS, MAX_VOCAB
    if corpus == "wiki":
        return WIKI_TRAIN_TOKENS, WIKI_VOCAB
    report = (dataset.report or {}) if dataset else {}
    if not report.get("tokens"):
        return None
    tokens = (report["tokens"] + report.get("lines", 0)) * TEXT_TRAIN_FRACTION    # + one <eos> per line
    return int(tokens), min(report.get("vocabulary", MAX_VOCAB), MAX_VOCAB) + 2   # + <eos>, <unk>


def caption_train_images(dataset):
    """Images trained on per epoch: caption_task holds out validation and test images first."""
    images = ((dataset.report or {}).get("images") or 0) if dataset else 0
    held_out = min(500, max(1, images // 10))
    return max(0, images - 2 * held_out)


def _median(values):
    values = sorted(v for v in values if isinstance(v, (int, float)) and v > 0)
    return values[len(values) // 2] if values else None


def recent_finished_runs(kind):
    return (TrainingRun.objects.filter(kind=kind, job__status="succeeded").select_related("dataset")
            .order_by("-job__finished_at", "-pk")[:RECENT_RUNS])


def measured_run_speed(run):
    """A finished run's training speed from its own log: tokens/s (language model), images/s (captioner) or
    sentence pairs/s (translator)."""
    if run.kind == "lm":
        return _median(e.get("tokens_per_s") for e in run.history if e.get("event") == "step")
    last = next((e for e in reversed(run.history) if e.get("event") == "epoch" and e.get("elapsed_s")), None)
    batch = run.params.get("batch_images") or run.params.get("batch_size")   # captioner images, translator pairs
    return last["step"] * batch / last["elapsed_s"] if last and batch and last.get("step") else None


def describe_size(params):
    cells = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}
    return f"{cells.get(params.get('cell'), params.get('cell'))} {params.get('nlayers')}×{params.get('nhid')}"


def lm_tokens_per_s(params, vocabulary):
    """(tokens/s, where the figure comes from) for a language model of this size on this machine."""
    target = lm_flops_per_token(params, vocabulary)
    best = None
    for run in recent_finished_runs("lm"):
        size = lm_corpus_size(run.corpus, run.dataset)
        speed = measured_run_speed(run)
        if not size or not speed:
            continue
        ratio = lm_flops_per_token(run.params, size[1]) / target
        # The nearest size in arithmetic needs the least scaling, and so is the least wrong.
        if best is None or abs(math.log(ratio)) < abs(math.log(best[1])):
            best = (run, ratio, speed)
    if best:
        run, ratio, speed = best
        if abs(ratio - 1) < 0.01:
            return speed, f"measured in run {run.pk} for this size"
        return speed * ratio, (f"scaled by arithmetic per token from run {run.pk} ({describe_size(run.params)}, "
                               f"{speed:,.0f} tokens/s), so rough")
    bench_flops_per_s = BENCH_LM_TOKENS_PER_S * lm_flops_per_token(BENCH_LM_MODEL, MAX_VOCAB)
    speed = min(bench_flops_per_s / target, BENCH_LM_MAX_TOKENS_PER_S)
    return speed, ("no run has finished on this machine yet: scaled from the 1,021 tokens/s docs/benchmarks.md "
                   "measured for LSTM 2×650 on a 2-core AVX2 VM, so rough")


def caption_images_per_s(params):
    runs = [(run, measured_run_speed(run)) for run in recent_finished_runs("caption")]
    runs = [(run, speed) for run, speed in runs if speed]
    if runs:
        hidden = params.get("hidden_dim")
        run, speed = min(runs, key=lambda item: abs(math.log((item[0].params.get("hidden_dim") or 1) / (hidden or 1))))
        same = run.params.get("hidden_dim") == hidden
        return speed, (f"measured in run {run.pk}" + (" for this size" if same else
                       f" (hidden size {run.params.get('hidden_dim')}, not {hidden}, so rough)"))
    return BENCH_CAPTION_IMAGES_PER_S, ("no captioner run has finished on this machine yet: the 512-wide "
                                        "decoder's float32 pace in docs/benchmarks.md, so rough")


MULTI30K_TRAIN_PAIRS = 29_000
# Without a finished translator run on this machine: the shipped en-de model's own run (docs/models.md), 1 thread
# with input feeding, about 222 s an epoch of 29,000 pairs, validation included.
BENCH_TRANSLATE_PAIRS_PER_S = 130.0


def translate_train_pairs(corpus, dataset):
    if corpus == "multi30k":
        return MULTI30K_TRAIN_PAIRS
    pairs = ((dataset.report or {}).get("pairs") or 0) if dataset else 0
    return pairs - min(500, pairs // 10)          # ml.translate.train.load_pairs holds these out


def translate_pairs_per_s(params):
    runs = [(run, measured_run_speed(run)) for run in recent_finished_runs("translate")]
    runs = [(run, speed) for run, speed in runs if speed]
    if runs:
        run, speed = runs[0]
        same = all(run.params.get(k) == params.get(k) for k in ("dec_hidden", "attention", "input_feed"))
        return speed, f"measured in run {run.pk}" + ("" if same else " with other sizes, so rough")
    return BENCH_TRANSLATE_PAIRS_PER_S, ("no translator run has finished on this machine yet: the shipped "
                                         "en-de model's pace on one thread, so rough")


def _minutes(seconds):
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _count(n):
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n:,}"


def _plural(n, noun):
    return f"{_count(n)} {noun}{'' if n == 1 else 's'}"


def estimate_duration(kind, values):
    """What the start form says before a run is queued: {"seconds", "text"} from the form's cleaned values
    (`seconds` is None when a value the estimate needs is missing)."""
    if kind == "caption":
        images = caption_train_images(values.get("dataset"))
        epochs = (values.get("epochs") or 0) + (values.get("scst_epochs") or 0)
        if not images or not epochs:
            return {"seconds": None, "text": "Choose a caption dataset and the epochs to see an estimate."}
        speed, basis = caption_images_per_s(values)
        seconds = images * epochs / speed
        amount = f"{_plural(images, 'image')} × {_plural(epochs, 'epoch')} at ~{speed:.1f} images/s"
        if values.get("scst_epochs"):
            basis += "; self-critical epochs counted at the cross-entropy pace"
    elif kind == "forecast":
        budget = values.get("time_budget_min") or 0
        if not budget:
            return {"seconds": None, "text": "Early stopping ends most forecaster runs within a minute or two; set a "
                                             "time budget to bound it."}
        return {"seconds": budget * 60, "text": f"At most {_minutes(budget * 60)} (the time budget; early stopping "
                                                f"usually ends it sooner), then a backtest of a few seconds to a "
                                                f"few minutes against ARIMA and ETS."}
    elif kind == "translate":
        pairs = translate_train_pairs(values.get("corpus"), values.get("dataset"))
        epochs = values.get("epochs") or 0
        if not pairs or not epochs:
            return {"seconds": None, "text": "Choose the data and the epochs to see an estimate."}
        speed, basis = translate_pairs_per_s(values)
        seconds = pairs * epochs / speed
        amount = f"{_count(pairs)} sentence pairs × {_plural(epochs, 'epoch')} at ~{speed:.0f} pairs/s"
    else:
        size = lm_corpus_size(values.get("corpus"), values.get("dataset"))
        epochs = values.get("epochs") or 0
        needed = ("cell", "emsize", "nhid", "nlayers")
        if not size or not epochs or any(not values.get(name) for name in needed):
            return {"seconds": None, "text": "Choose the data, the network size and the epochs to see an estimate."}
        tokens, vocabulary = size
        speed, basis = lm_tokens_per_s(values, vocabulary)
        seconds = tokens * epochs / speed
        amount = f"{_count(tokens)} tokens × {_plural(epochs, 'epoch')} at ~{_count(round(speed))} tokens/s"
    budget = values.get("time_budget_min") or 0
    text = f"≈ {_minutes(seconds)} on this machine: {amount} ({basis})."
    if budget and seconds > budget * 60:
        text += f" The {budget:g}-minute time budget stops it about {budget * 60 / seconds:.0%} of the way through."
        seconds = budget * 60
    return {"seconds": round(seconds, 1), "text": text}
