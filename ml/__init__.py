"""Pure PyTorch: models, training loops, decoding, data loading. Never imports Django."""
