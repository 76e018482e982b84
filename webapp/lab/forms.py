"""Validation for gradient-lab experiments, shared by the page and the JSON API.

Limits, presets and the time budget come from ml/lab/budget.py, which is plain Python, so the web process never
imports torch yet validates with the worker's own numbers. The worker validates again (ExperimentConfig).
"""
from django import forms

from ml.lab.budget import CELL_COST, LEAD, LIMITS, MAX_SECONDS, PRESETS, SECONDS_PER_WORK  # noqa: F401 (torch-free)
from ml.lab.budget import estimated_seconds as budget_seconds

CELLS = [("rnn_tanh", "RNN (tanh)"), ("rnn_relu", "RNN (ReLU)"), ("lstm", "LSTM"), ("gru", "GRU")]
INITS = [("xavier", "Xavier"), ("naive", "Naive N(0, 1)")]
OPTIMIZERS = [("adam", "Adam"), ("sgd", "SGD + momentum")]
HIDDEN_SIZES = (16, 32, 64, 128)
DEFAULT_LR = {"adam": 0.005, "sgd": 0.05}

DEFAULTS = {"cells": ["rnn_tanh", "lstm"], "distance": 50, "steps": 300, "hidden": 64, "batch": 32, "init": "xavier",
            "clip": False, "max_norm": 1.0, "tbptt": None, "optimizer": "adam", "lr": None, "sweep": True, "seed": 0}


def estimated_seconds(cfg):
    """Predicted wall seconds of an experiment on the 2-core box (the worker's own estimate)."""
    variants = 1 + bool(cfg["clip"]) + (cfg["tbptt"] is not None)
    return budget_seconds(cfg["cells"], cfg["distance"], cfg["steps"], cfg["hidden"], cfg["batch"], variants,
                          cfg["sweep"])


HIDDEN_MESSAGE = f"'hidden' must be one of {', '.join(map(str, HIDDEN_SIZES))}."


def _range(name, kind="whole number"):
    low, high = LIMITS[name]
    return f"'{name}' must be a {kind} from {low:g} to {high:g}."


class StrictBooleanField(forms.Field):
    """JSON true/false (or the strings 'true'/'false'); anything else is an error, not silently truthy."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise forms.ValidationError(f"'{self.label}' must be true or false.")


def int_field(name):
    low, high = LIMITS[name]
    message = _range(name)
    return forms.IntegerField(required=False, min_value=low, max_value=high, error_messages={
        "invalid": message, "min_value": message, "max_value": message})


def float_field(name):
    low, high = LIMITS[name]
    message = _range(name, "number")
    return forms.FloatField(required=False, min_value=low, max_value=high, error_messages={
        "invalid": message, "min_value": message, "max_value": message})


class ExperimentForm(forms.Form):
    """Every field optional: missing ones come from the preset (if named), then from DEFAULTS."""

    preset = forms.ChoiceField(required=False, choices=[(k, v["title"]) for k, v in PRESETS.items()],
                               error_messages={"invalid_choice": "Unknown preset '%(value)s'."})
    cells = forms.MultipleChoiceField(required=False, choices=CELLS, error_messages={
        "invalid_choice": "Unknown cell '%(value)s': choose from rnn_tanh, rnn_relu, lstm, gru.",
        "invalid_list": "'cells' must be a list such as [\"rnn_tanh\", \"lstm\"]."})
    distance = int_field("distance")
    steps = int_field("steps")
    hidden = forms.TypedChoiceField(required=False, coerce=int, choices=[(h, h) for h in HIDDEN_SIZES],
                                    empty_value=None, error_messages={"invalid_choice": HIDDEN_MESSAGE})
    batch = int_field("batch")
    init = forms.ChoiceField(required=False, choices=INITS, error_messages={
        "invalid_choice": "'init' must be 'xavier' or 'naive'."})
    clip = StrictBooleanField(required=False, label="clip")
    max_norm = float_field("max_norm")
    tbptt = int_field("tbptt")
    optimizer = forms.ChoiceField(required=False, choices=OPTIMIZERS, error_messages={
        "invalid_choice": "'optimizer' must be 'adam' or 'sgd'."})
    lr = float_field("lr")
    sweep = StrictBooleanField(required=False, label="sweep")
    seed = int_field("seed")

    FIELDS = tuple(DEFAULTS)

    def __init__(self, data=None, *args, **kwargs):
        self.raw = dict(data or {})
        super().__init__(data, *args, **kwargs)

    def clean_cells(self):
        raw = self.raw.get("cells")
        if raw is not None and not isinstance(raw, (list, tuple)):
            raise forms.ValidationError("'cells' must be a list such as [\"rnn_tanh\", \"lstm\"].")
        return self.cleaned_data["cells"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        preset = PRESETS[data["preset"]]["config"] if data.get("preset") else {}
        config = {}
        for name in self.FIELDS:
            given = name in self.raw and self.raw[name] not in (None, "", [])
            if name == "cells" and "cells" in self.raw and self.raw["cells"] == []:
                raise forms.ValidationError({"cells": "Choose at least one cell to train."})
            config[name] = data[name] if given else preset.get(name, DEFAULTS[name])
        # Canonical order, no repeats: the worker and the charts draw cells the same way every time.
        config["cells"] = [c for c, _ in CELLS if c in config["cells"]]
        if config["tbptt"] is not None and config["tbptt"] >= config["distance"]:
            raise forms.ValidationError({"tbptt": f"Truncation k={config['tbptt']} must be shorter than the distance "
                                                  f"T={config['distance']}; leave it empty for full BPTT."})
        seconds = estimated_seconds(config)
        if seconds > MAX_SECONDS:
            raise forms.ValidationError(
                f"This experiment would take about {seconds:.0f} s, more than the {MAX_SECONDS:.0f} s allowed: use "
                "fewer steps, cells or twins, a shorter distance, or turn the sweep off.")
        self.config = config
        self.estimated_seconds = round(seconds, 1)
        return data


def first_error(form):
    """(field, message) of the first problem, for a JSON error body."""
    for field, errors in form.errors.items():
        return (None if field == "__all__" else field), errors[0]
    return None, "Invalid input."
