"""The toolchain: what builds artifacts and models (export, recipes, converters, parity, bundle
building, training, evaluation against ground truth). It imports the inference half; the
inference half never imports it."""
