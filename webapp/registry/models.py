"""A model version is data: checkpoint directory + config + metrics + the command that made it."""
from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        LANGUAGE_MODEL = "lm", "Language model"
        CAPTIONER = "caption", "Image captioner"
        TRANSLATOR = "translate", "Translator"
        FORECASTER = "forecast", "Forecaster"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    slot = models.SlugField(
        max_length=64, help_text="What the demos ask for, e.g. 'ptb-lstm' or 'flickr8k'. One version per slot is active."
    )
    version = models.PositiveIntegerField()
    label = models.CharField(max_length=120, help_text="Shown to visitors, e.g. 'PTB · LSTM'.")
    path = models.CharField(max_length=500, help_text="Checkpoint directory (absolute, or relative to MODELS_DIR).")
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    command = models.TextField(blank=True, help_text="The exact command that produced this checkpoint.")
    source = models.CharField(max_length=16, default="shipped", help_text="'shipped' with the repo or 'trained' here.")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Kept when this version is rolled back to, so repeated roll-backs walk back through history instead of
    # toggling between the two most recent activations.
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The version that served the slot when this one was activated; roll back re-activates it.",
    )

    class Meta:
        ordering = ["kind", "slot", "-version"]
        permissions = [("activate_modelversion", "Can activate or roll back model versions")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "slot", "version"], name="unique_version_per_slot"),
            models.UniqueConstraint(
                fields=["kind", "slot"], condition=Q(is_active=True), name="one_active_version_per_slot"
            ),
        ]

    def __str__(self):
        return f"{self.label} v{self.version}"

    @property
    def name(self):
        return f"{self.kind}:{self.slot}:v{self.version}"

    def as_dict(self):
        return {
            "id": self.pk,
            "kind": self.kind,
            "slot": self.slot,
            "version": self.version,
            "label": self.label,
            "name": self.name,
            "metrics": self.metrics,
        }
