"""Validation for every forecast request, shared by the page and the JSON API. A bad series is refused here, in
the web process, with the reason, and no job is made.

Every message starts with the field's name ("Horizon: must be at most 365."), as on the other demos."""
from django import forms

from ml.forecast.data import BUILTIN, MAX_BYTES, SeriesError, check_length, check_values, read_csv
from webapp.nextword.forms import whole_number

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "Vanilla RNN"}
# The bundled series as the page lists them: (name, title, one line on what to expect).
SERIES = [
    ("co2", "Atmospheric CO2 (weekly)", "a trend and a yearly cycle: structure a network can learn"),
    ("elnino", "El Niño sea temperature (monthly)", "a yearly cycle with irregular warm and cold years"),
    ("sunspots", "Sunspots (yearly)", "an 11-year cycle that drifts"),
    ("sp500", "S&P 500 (daily)", "a market price: the bar to beat is \"tomorrow = today\""),
    ("nasdaq", "NASDAQ Composite (daily)", "a market price"),
    ("oil", "WTI crude oil (daily)", "a market price"),
    ("vix", "VIX volatility index (daily)", "a market's fear gauge"),
]
assert {name for name, _, _ in SERIES} == set(BUILTIN)


def _text_choice(label, choices, default):
    def clean(value):
        value = value or default
        if value not in choices:
            raise forms.ValidationError(f"{label}: choose one of {', '.join(choices)}, not '{value}'.")
        return value
    return clean


class ForecastForm(forms.Form):
    """A bundled series by name (the API may send ``values`` instead; see ``clean_values``)."""
    series = forms.CharField(required=False)
    horizon = whole_number("Horizon", 1, 365)
    cell = forms.CharField(required=False)

    def clean_series(self):
        series = self.cleaned_data.get("series")
        if series in BUILTIN:        # the common case needs no look at the registry
            return series
        from .pages import trained_series

        return _text_choice("Series", [*BUILTIN, *trained_series()], "")(series)

    def clean_horizon(self):
        horizon = self.cleaned_data.get("horizon")
        if horizon is None:
            raise forms.ValidationError("Horizon: give the number of steps to forecast, 1 to 365.")
        return horizon

    def clean_cell(self):
        return _text_choice("Cell", CELLS, "lstm")(self.cleaned_data.get("cell"))

    def params(self):
        return {key: self.cleaned_data[key] for key in ("series", "horizon", "cell")}


def clean_values(values, horizon):
    """The API's ``values``: a list of 30 to 100,000 finite numbers, long enough for ``horizon``."""
    try:
        array = check_values(values)
        check_length(len(array), horizon)
    except SeriesError as exc:
        raise forms.ValidationError(f"Values: {exc}.") from None
    return [float(v) for v in array]


class UploadForm(forms.Form):
    """A CSV file from the page: a date or position column and a numeric column."""
    file = forms.FileField(error_messages={"required": "File: choose a CSV file to upload.",
                                           "empty": "File: the file is empty."})
    column = forms.CharField(required=False, max_length=100)
    horizon = whole_number("Horizon", 1, 365)
    cell = forms.CharField(required=False)

    clean_horizon = ForecastForm.clean_horizon
    clean_cell = ForecastForm.clean_cell

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if self.errors or upload is None:
            return data
        if upload.size > MAX_BYTES:
            raise forms.ValidationError({"file": f"File: {upload.size / 1e6:.1f} MB; the limit is "
                                                 f"{MAX_BYTES // (1024 * 1024)} MB."})
        content = upload.read()
        upload.seek(0)
        try:
            series = read_csv(content, column=data.get("column", ""), name=upload.name.rsplit(".", 1)[0][:60])
            check_length(len(series), data["horizon"], series.season)
        except SeriesError as exc:
            raise forms.ValidationError({"file": f"File: {exc}."}) from None
        data["series_found"] = series
        return data

    def params(self):
        series = self.cleaned_data["series_found"]
        return {"horizon": self.cleaned_data["horizon"], "cell": self.cleaned_data["cell"],
                "column": self.cleaned_data.get("column", ""), "name": series.name, "n": len(series)}
