"""Validation for every next-word request, shared by the page and the JSON API."""
from django import forms

from webapp.registry.models import ModelVersion
from webapp.registry.services import active_versions

MAX_PROMPT_CHARS = 2000


def model_choices(versions=None):
    versions = active_versions(ModelVersion.Kind.LANGUAGE_MODEL, listing=True) if versions is None else versions
    return [(v.slot, v.label) for v in versions]


class PromptForm(forms.Form):
    text = forms.CharField(
        strip=False,
        max_length=MAX_PROMPT_CHARS,
        error_messages={
            "required": "Type a few words first: the prompt is empty.",
            "max_length": f"The prompt is too long: keep it under {MAX_PROMPT_CHARS} characters.",
        },
    )
    model = forms.ChoiceField(required=False, error_messages={"invalid_choice": "Unknown model '%(value)s'."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One query serves both the choices and, after validation, the version to run.
        self.versions = {v.slot: v for v in active_versions(ModelVersion.Kind.LANGUAGE_MODEL, listing=True)}
        choices = model_choices(self.versions.values())
        self.fields["model"].choices = choices
        self.default_model = "ptb-lstm" if any(slot == "ptb-lstm" for slot, _ in choices) else (
            choices[0][0] if choices else None)

    def clean_text(self):
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Type a few words first: the prompt is only whitespace.")
        return text

    def clean_model(self):
        model = self.cleaned_data.get("model") or self.default_model
        if model is None:
            raise forms.ValidationError("No language model is installed yet.")
        return model

    def version(self):
        return self.versions.get(self.cleaned_data["model"])


class SuggestForm(PromptForm):
    k = forms.IntegerField(required=False, min_value=1, max_value=20, error_messages={
        "min_value": "'k' must be between 1 and 20.", "max_value": "'k' must be between 1 and 20.",
        "invalid": "'k' must be a whole number between 1 and 20."})

    def clean_k(self):
        return self.cleaned_data.get("k") or 5


class SampleForm(PromptForm):
    words = forms.IntegerField(required=False, min_value=1, max_value=100)
    temperature = forms.FloatField(required=False, min_value=0.05, max_value=3.0)
    top_k = forms.IntegerField(required=False, min_value=1, max_value=1000)
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)

    def clean(self):
        data = super().clean()
        data["words"] = data.get("words") or 30
        data["temperature"] = data.get("temperature") or 1.0
        data["top_k"] = data.get("top_k") or 40
        return data


def first_error(form):
    """(field, message) of the first problem, for a JSON error body."""
    for field, errors in form.errors.items():
        return (None if field == "__all__" else field), errors[0]
    return None, "Invalid input."
