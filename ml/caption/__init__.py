"""Image captioning (Show, Attend and Tell on MobileNetV2 features), pure PyTorch, no Django.

Public entry points:

- :class:`ml.caption.captioner.Captioner` -- ``Captioner.from_dir(path).caption(image, beam=3)``
- :func:`ml.caption.train.train` with :class:`ml.caption.train.CaptionConfig` (see :mod:`ml.training`)
- :func:`ml.caption.evaluate.evaluate_folder` / :func:`ml.caption.evaluate.score_captions`
- :func:`ml.caption.checkpoint.save_model` / :func:`ml.caption.checkpoint.load_model`
- :func:`ml.caption.data.preprocess`, :class:`ml.caption.data.ImageLoadError`
"""
