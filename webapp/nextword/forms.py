"""Validation for every next-word request, shared by the page and the JSON API.

Every message starts with the field's name ("Words: must be at most 100."), because the page shows one message
for a whole form and an API client sees it next to the field it names."""
import secrets

from django import forms

from webapp.jobs.api import first_error  # noqa: F401  (the views' error body)
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_versions

MAX_PROMPT_CHARS = 2000
MAX_TARGET_CHARS = 40
MAX_SEED = 2**31 - 1
# The model a request without one gets, first installed wins: general English, then the PTB benchmark model.
DEFAULT_MODELS = ("wiki-lstm", "ptb-lstm")


def model_choices(versions=None):
    versions = active_versions(ModelVersion.Kind.LANGUAGE_MODEL) if versions is None else versions
    return [(v.slot, v.label) for v in versions]


def number_errors(label, low, high, whole=True):
    """Django's number messages ("Ensure this value is …") rewritten to name the field."""
    kind = "a whole number" if whole else "a number"
    return {"min_value": f"{label}: must be at least {low}.", "max_value": f"{label}: must be at most {high}.",
            "invalid": f"{label}: must be {kind} between {low} and {high}.",
            "required": f"{label}: give a value between {low} and {high}."}


def whole_number(label, low, high):
    return forms.IntegerField(required=False, min_value=low, max_value=high, error_messages=number_errors(
        label, low, high))


class PromptForm(forms.Form):
    text = forms.CharField(
        strip=False,
        max_length=MAX_PROMPT_CHARS,
        error_messages={
            "required": "Text: type a few words first; the prompt is empty.",
            "max_length": f"Text: the prompt is too long; keep it under {MAX_PROMPT_CHARS} characters.",
        },
    )
    model = forms.ChoiceField(required=False, error_messages={
        "invalid_choice": "Model: unknown model '%(value)s'; pick one from the model selector."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One query serves both the choices and, after validation, the version to run.
        self.versions = {v.slot: v for v in active_versions(ModelVersion.Kind.LANGUAGE_MODEL)}
        choices = model_choices(self.versions.values())
        self.fields["model"].choices = choices
        slots = [slot for slot, _ in choices]
        self.default_model = next((slot for slot in DEFAULT_MODELS if slot in slots), slots[0] if slots else None)

    def clean_text(self):
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Text: type a few words first; the prompt is only whitespace.")
        return text

    def clean_model(self):
        model = self.cleaned_data.get("model") or self.default_model
        if model is None:
            raise forms.ValidationError("Model: no language model is installed yet.")
        return model

    def version(self):
        return self.versions.get(self.cleaned_data["model"])


class SuggestForm(PromptForm):
    k = whole_number("k", 1, 20)
    target = forms.CharField(required=False, max_length=MAX_TARGET_CHARS, error_messages={
        "max_length": f"Target: one word of at most {MAX_TARGET_CHARS} characters."})

    def clean_k(self):
        return self.cleaned_data.get("k") or 5

    def clean_target(self):
        target = self.cleaned_data.get("target", "").strip()
        if len(target.split()) > 1:
            raise forms.ValidationError("Target: must be a single word (the word you expect next).")
        return target or None


class SampleForm(PromptForm):
    words = whole_number("Words", 1, 100)
    temperature = forms.FloatField(required=False, min_value=0.05, max_value=3.0,
                                   error_messages=number_errors("Temperature", 0.05, 3, whole=False))
    top_k = whole_number("Top-k", 1, 1000)
    seed = whole_number("Seed", 0, MAX_SEED)

    def clean(self):
        data = super().clean()
        data["words"] = data.get("words") or 30
        data["temperature"] = data.get("temperature") or 1.0
        data["top_k"] = data.get("top_k") or 40
        # A continuation's permalink shows its seed, so one is always chosen: the same settings give it again.
        if data.get("seed") is None and "seed" not in self.errors:
            data["seed"] = secrets.randbelow(MAX_SEED + 1)
        return data

