"""The Job row: every demo request and every training run is one. The database is the source of truth."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from webapp.core.json import JSONField


class Job(models.Model):
    class Kind(models.TextChoices):
        DIAGNOSTIC = "diagnostic", "Diagnostic round trip"
        NEXT_WORD = "next_word", "Next-word suggestions"
        SAMPLE = "sample", "Sampled continuation"
        INSPECT = "inspect", "Gate inspector"
        CAPTION = "caption", "Image caption"
        TRANSLATE = "translate", "Translation"
        FORECAST = "forecast", "Forecast"
        TRAIN = "train", "Training run"
        LAB = "lab", "Gradient lab experiment"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    queue = models.CharField(max_length=64, default="inference")
    input = JSONField(default=dict, blank=True)
    input_file = models.FileField(upload_to="uploads/%Y/%m/%d/", blank=True)
    result = JSONField(null=True, blank=True)
    progress = JSONField(null=True, blank=True, help_text="Latest progress report of a long job.")
    error = models.TextField(blank=True)
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    session_key = models.CharField(max_length=40, blank=True, db_index=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)

    queued_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the message was last sent to the broker.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    batch_size = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How many jobs ran in the forward pass this one ran in (batched kinds).")

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"]), models.Index(fields=["owner", "-queued_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.id} ({self.status})"

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    def timings(self):
        def seconds(start, end):
            return round((end - start).total_seconds(), 4) if start and end else None

        return {
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "wait_seconds": seconds(self.queued_at, self.started_at),
            "run_seconds": seconds(self.started_at, self.finished_at),
            "total_seconds": seconds(self.queued_at, self.finished_at),
            "batch_size": self.batch_size,
        }
