"""Gradient lab (issue #8): why recurrent networks need gates, shown with small live experiments.

Pure PyTorch: never imports Django. Public API (what the web app's worker calls):
    from ml.lab import ExperimentConfig, run_experiment, PRESETS
    cfg = ExperimentConfig.from_dict({"cells": ["rnn_tanh", "lstm"], "distance": 50, ...})  # ValueError if bad
    result = run_experiment(cfg, on_progress=callback, should_stop=callable)  # plain JSON-able dict

Modules: task (the delayed-recall task: remember the first token over T distractor steps),
experiment (ExperimentConfig, RecallNet, training, per-time-step gradient norms, accuracy-vs-T sweep).
"""
from .experiment import CELLS, PRESETS, ExperimentConfig, ExperimentStopped, RecallNet, run_experiment
from .task import RecallTask

__all__ = ["CELLS", "PRESETS", "ExperimentConfig", "ExperimentStopped", "RecallNet", "RecallTask", "run_experiment"]
