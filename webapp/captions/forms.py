from django import forms

from .images import InvalidImage, normalise_upload

BEAM_RANGE = "Beam width: must be between 1 and 10."


class CaptionForm(forms.Form):
    image = forms.FileField(error_messages={"required": "Choose an image to caption.",
                                            "empty": "The file is empty (0 bytes)."})
    beam = forms.IntegerField(required=False, min_value=1, max_value=10, error_messages={
        "min_value": BEAM_RANGE, "max_value": BEAM_RANGE, "invalid": "Beam width: enter a whole number."})

    def clean_image(self):
        try:
            self.normalised, self.image_info = normalise_upload(self.cleaned_data["image"])
        except InvalidImage as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.cleaned_data["image"]

    def clean_beam(self):
        return self.cleaned_data.get("beam") or 3
