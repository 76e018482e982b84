"""Datasets staff upload, and training runs that turn them into model versions."""
from django.conf import settings
from django.db import models


class Dataset(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text corpus (language model)"
        CAPTIONS = "captions", "Captioned images"
        PARALLEL = "parallel", "Parallel text (translation)"
        SERIES = "series", "Time series (forecasting)"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    file = models.FileField(upload_to="datasets/%Y/%m/", blank=True,
                            help_text="A UTF-8 .txt corpus, a .zip of images with captions.txt / "
                                      "Flickr8k.token.txt / dataset_*.json, or parallel text: a .tsv of "
                                      "English<TAB>translation lines, or the English side of two aligned files, or a time "
                                      "series as a .csv (a date or position column and a numeric column).")
    target_file = models.FileField(upload_to="datasets/%Y/%m/", blank=True,
                                   help_text="Parallel text as two files: the translations, line N translating "
                                             "line N of the English file.")
    folder = models.CharField(max_length=500, blank=True,
                              help_text="Or a folder on the server (e.g. a Flickr8k download) instead of an upload.")
    report = models.JSONField(default=dict, blank=True, help_text="What validation found: sizes, vocabulary, problems.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class TrainingRun(models.Model):
    """One training job: its hyper-parameters, progress history and the version it produced."""

    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="training_run")
    kind = models.CharField(max_length=16, default="lm")
    corpus = models.CharField(max_length=32, default="dataset",
                              help_text="'ptb', 'shakespeare', 'wiki', 'multi30k' or 'dataset' (the chosen "
                                        "uploaded dataset).")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    slot = models.SlugField(max_length=64)
    label = models.CharField(max_length=120)
    params = models.JSONField(default=dict)
    run_dir = models.CharField(max_length=500, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="Progress events: loss, perplexity, grad norm.")
    log = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    model_version = models.OneToOneField("registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="training_run")

    class Meta:
        ordering = ["-job__queued_at"]
        permissions = [("start_training", "Can start and cancel training runs")]

    def __str__(self):
        return f"{self.label} (run {self.pk})"

    @property
    def status(self):
        return self.job.status
