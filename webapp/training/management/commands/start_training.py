"""Queue a training run from the shell, with the same options and validation as the admin form."""
import json
import time

from django.core.management.base import BaseCommand, CommandError

from webapp.training import services
from webapp.training.datasets import DatasetInvalid
from webapp.training.forms import StartRunForm
from webapp.training.models import Dataset


class Command(BaseCommand):
    help = "Queue a language-model training run on the `training` queue (as the admin's Start form does)."

    def add_arguments(self, parser):
        form = StartRunForm()
        parser.add_argument("--text-file", help="Upload this UTF-8 text file as a new dataset and train on it.")
        for name, field in form.fields.items():
            flag = f"--{name.replace('_', '-')}"
            if name == "dataset":
                parser.add_argument(flag, type=int, help="id of an uploaded text dataset")
            elif name in ("tie_weights", "bf16"):
                parser.add_argument(flag, choices=["true", "false"], help=str(field.help_text or field.label or name))
            else:
                parser.add_argument(flag, help=f"{field.label or name} (default {field.initial})")
        parser.add_argument("--wait", action="store_true", help="Block until the run ends and print its result.")

    def handle(self, *args, text_file=None, wait=False, **options):
        data = {name: field.initial for name, field in StartRunForm().fields.items()}
        data.update({k: v for k, v in options.items() if k in data and v is not None})
        for flag in ("tie_weights", "bf16"):
            data[flag] = str(data[flag]).lower() in ("true", "1", "yes")
        if text_file:
            with open(text_file, "rb") as handle:
                from django.core.files.uploadedfile import SimpleUploadedFile

                try:
                    dataset = services.create_dataset(text_file, Dataset.Kind.TEXT,
                                                      SimpleUploadedFile(text_file, handle.read()))
                except DatasetInvalid as exc:
                    raise CommandError(str(exc)) from None
            data.update(corpus="dataset", dataset=dataset.pk)
            self.stdout.write(f"dataset {dataset.pk}: {json.dumps(dataset.report)}")
        form = StartRunForm(data)
        if not form.is_valid():
            raise CommandError("; ".join(f"{k}: {v[0]}" for k, v in form.errors.items()))
        d = form.cleaned_data
        run = services.start_run(params=form.params(), slot=d["slot"], label=d["label"], corpus=d["corpus"],
                                 dataset=d.get("dataset"))
        self.stdout.write(f"queued training run {run.pk} (job {run.job.pk})")
        while wait:
            run.job.refresh_from_db()
            if run.job.is_finished:
                self.stdout.write(json.dumps({"status": run.job.status, "error": run.job.error or None,
                                              "result": run.job.result}))
                if run.job.status != "succeeded":
                    raise CommandError(run.job.error or run.job.status)
                break
            time.sleep(1)
