"""Validation for every translation request, shared by the page and the JSON API.

Every message starts with the field's name ("Beam: must be at most 10."), as on the other demos."""
from django import forms

from webapp.nextword.forms import whole_number
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_versions

MAX_TEXT_CHARS = 500
SOURCES = {"en": "English"}
TARGETS = {"de": "German", "fr": "French"}


class TranslateForm(forms.Form):
    text = forms.CharField(strip=False, max_length=MAX_TEXT_CHARS, error_messages={
        "required": "Text: type an English sentence first; the text is empty.",
        "max_length": f"Text: too long; keep it under {MAX_TEXT_CHARS} characters (one or two sentences)."})
    source = forms.CharField(required=False)
    target = forms.CharField(required=False)
    beam = whole_number("Beam", 1, 10)
    model = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.versions = {v.slot: v for v in active_versions(ModelVersion.Kind.TRANSLATOR)}

    def clean_text(self):
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Text: type an English sentence first; the text is only whitespace.")
        return " ".join(text.split())

    def clean_source(self):
        source = self.cleaned_data.get("source") or "en"
        if source not in SOURCES:
            raise forms.ValidationError(f"Source: only English ('en') can be translated from, not '{source}'.")
        return source

    def clean_target(self):
        target = self.cleaned_data.get("target") or "de"
        if target not in TARGETS:
            raise forms.ValidationError(f"Target: choose 'de' (German) or 'fr' (French), not '{target}'.")
        return target

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        slot = data.get("model") or f"{data['source']}-{data['target']}"
        version = self.versions.get(slot)
        if version is None:
            field = "model" if data.get("model") else "target"
            raise forms.ValidationError({field: f"{field.capitalize()}: no translation model for '{slot}' is "
                                                f"installed; choose one of {', '.join(sorted(self.versions)) or 'none'}."})
        pair = "-".join(slot.split("-")[:2])
        if pair != f"{data['source']}-{data['target']}":
            raise forms.ValidationError({"model": f"Model: '{slot}' does not translate "
                                                  f"{data['source']} → {data['target']}."})
        data["model"] = slot
        self._version = version
        return data

    def version(self):
        return self._version
