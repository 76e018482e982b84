"""Gradient lab (issue #8): why recurrent networks need gates, shown with small live experiments.

Pure PyTorch: never imports Django. Public API (what the web app's worker calls):
    from ml.lab.experiment import ExperimentConfig, run_experiment, PRESETS
    cfg = ExperimentConfig.from_dict({"cells": ["rnn_tanh", "lstm"], "distance": 50, ...})  # ValueError if bad
    result = run_experiment(cfg, on_progress=callback, should_stop=callable)  # plain JSON-able dict

Modules: budget (limits, presets and the time budget; plain Python, so the web form can import it without torch),
task (the delayed-recall task: remember the first token over T distractor steps),
experiment (ExperimentConfig, RecallNet, training, per-time-step gradient norms, accuracy-vs-T sweep).
"""
