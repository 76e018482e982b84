"""Validation for gradient-lab experiments, shared by the page and the JSON API.

The web process never imports torch, so the limits, presets and the time budget of ml/lab/experiment.py are
mirrored here; tests/integration/test_lab_api.py checks that both sides agree. The worker validates again
(ExperimentConfig), so a drift could only turn a 400 into a failed job, never run something unbounded.
"""
from django import forms

CELLS = [("rnn_tanh", "RNN (tanh)"), ("rnn_relu", "RNN (ReLU)"), ("lstm", "LSTM"), ("gru", "GRU")]
INITS = [("xavier", "Xavier"), ("naive", "Naive N(0, 1)")]
OPTIMIZERS = [("adam", "Adam"), ("sgd", "SGD + momentum")]
HIDDEN_SIZES = (16, 32, 64, 128)
DEFAULT_LR = {"adam": 0.005, "sgd": 0.05}

# Same numbers as ml/lab/experiment.py: LIMITS, CELL_COST, SECONDS_PER_WORK, LEAD, MAX_SECONDS.
LIMITS = {"distance": (2, 200), "steps": (10, 400), "hidden": (8, 128), "batch": (8, 64), "tbptt": (1, 200),
          "max_norm": (0.01, 100.0), "lr": (1e-5, 1.0), "seed": (0, 2**31 - 1)}
CELL_COST = {"rnn_tanh": 1.0, "rnn_relu": 1.0, "lstm": 1.0, "gru": 3.0}
SECONDS_PER_WORK = 1.2e-4
LEAD = 4
MAX_SECONDS = 20.0

DEFAULTS = {"cells": ["rnn_tanh", "lstm"], "distance": 50, "steps": 300, "hidden": 64, "batch": 32, "init": "xavier",
            "clip": False, "max_norm": 1.0, "tbptt": None, "optimizer": "adam", "lr": None, "sweep": True, "seed": 0}

PRESETS = {
    "vanishing": {
        "title": "Vanishing: tanh RNN vs LSTM at T = 50",
        "config": {"cells": ["rnn_tanh", "lstm"], "distance": 50, "steps": 300},
    },
    "exploding": {
        "title": "Exploding: naive-init ReLU RNN with and without clipping",
        "config": {"cells": ["rnn_relu"], "distance": 10, "steps": 200, "hidden": 16, "init": "naive",
                   "clip": True, "max_norm": 1.0, "optimizer": "sgd"},
    },
    "truncated": {
        "title": "Truncated BPTT k = 5 vs full, LSTM at T = 20",
        "config": {"cells": ["lstm"], "distance": 20, "steps": 300, "tbptt": 5},
    },
}


def sweep_distances(distance, sweep):
    if not sweep:
        return [distance]
    return sorted({max(2, distance // 8), max(2, distance // 4), max(2, distance // 2), distance})


def estimated_seconds(cfg):
    """Predicted wall seconds of an experiment on the 2-core box (mirror of ExperimentConfig.estimated_seconds)."""
    variants = 1 + bool(cfg["clip"]) + (cfg["tbptt"] is not None)
    size = max(1.0, cfg["batch"] / 32) * max(1.0, cfg["hidden"] / 64) ** 1.15
    per_step = sum(CELL_COST[c] for c in cfg["cells"]) * size
    runs = variants * (cfg["distance"] + LEAD + 1)
    sweep = sum(d + LEAD + 1 for d in sweep_distances(cfg["distance"], cfg["sweep"]) if d != cfg["distance"])
    return 0.5 + per_step * cfg["steps"] * (runs + sweep) * 1.05 * SECONDS_PER_WORK


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
