"""The training contract every model task follows (next word, captions, and the tasks to come).

A task writes three things: a config dataclass that subclasses :class:`ml.training.config.TrainConfig`,
the save/load of its model directory, and a ``train(cfg, on_progress=None, should_stop=None) -> dict``
whose loop uses :class:`ml.training.run.Run` for what every run shares:

- **Run directory** (``cfg.run_dir``, e.g. ``var/runs/<name>``)::

      train_config.json   the config of the latest invocation
      last/               the task's model directory + state.safetensors (optimizer, RNG, extra tensors)
                          + state.json (loop position, history): the resume point, swapped in atomically
      best/               the task's model directory of the best validation score so far

  Nothing is written under ``models/`` unless ``cfg.export_dir`` names it: shipping is explicit.
- **Progress events** passed to ``on_progress(dict)``, ``dict["event"]`` one of :data:`run.EVENTS`.
- **Final status**, one of :data:`run.STATUSES`, in the ``done`` event and the returned dict.

Modules: config (the TrainConfig base), cli (command-line options from a config), checkpoint (JSON, atomic directory
swap, optimizer and RNG state as safetensors), run (Run, events, statuses).
"""
