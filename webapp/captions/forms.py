from django import forms

from .images import ACCEPTED_LABEL, MAX_UPLOAD_BYTES, InvalidImage, normalise_upload


class CaptionForm(forms.Form):
    image = forms.FileField(error_messages={"required": "Choose an image to caption.",
                                            "empty": "The file is empty (0 bytes)."},
                            help_text=f"{ACCEPTED_LABEL}, up to {MAX_UPLOAD_BYTES // 1_048_576} MB.")
    beam = forms.IntegerField(required=False, min_value=1, max_value=10, error_messages={
        "min_value": "'beam' must be between 1 and 10.", "max_value": "'beam' must be between 1 and 10."})

    def clean_image(self):
        try:
            self.normalised, self.image_info = normalise_upload(self.cleaned_data["image"])
        except InvalidImage as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.cleaned_data["image"]

    def clean_beam(self):
        return self.cleaned_data.get("beam") or 3
