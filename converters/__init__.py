"""Converters, one module per target (executorch, coreml, tflite), behind one registry."""
