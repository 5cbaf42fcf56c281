"""Quantization recipe files per backend (``executorch/``, ``coreml/``, ``tflite/``), as data."""
