"""LiteRT runtime: runs ``encoder.tflite`` / ``decoder.tflite`` in ``ai_edge_litert``'s interpreter.

Programs are called through their ``serving_default`` signature with the I/O contract's names
(XNNPACK is the interpreter's default CPU delegate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS
from ..prompts import PromptBatch
from .base import decoder_feeds

DEFAULT_THREADS = 2


class LiteRTRuntime:
    """Loads the two programs of a LiteRT bundle; ``max_points`` is the decoder's N."""

    name = "litert"

    def __init__(self, encoder: Path, decoder: Path, max_points: int, num_threads: int | None = None) -> None:
        self.max_points = max_points
        threads = num_threads or DEFAULT_THREADS
        self._encoder = self._load(Path(encoder), threads, ENCODER_INPUTS, ENCODER_OUTPUTS)
        self._decoder = self._load(Path(decoder), threads, DECODER_INPUTS, DECODER_OUTPUTS)

    @staticmethod
    def _load(path: Path, threads: int, inputs: tuple[str, ...], outputs: tuple[str, ...]):
        from ai_edge_litert.interpreter import Interpreter

        if not path.is_file():
            raise FileNotFoundError(f"LiteRT program {path} does not exist")
        try:
            runner = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner()
        except (RuntimeError, ValueError) as exc:
            raise RuntimeError(f"LiteRT could not load {path}: {exc}") from exc
        found = (sorted(runner.get_input_details()), sorted(runner.get_output_details()))
        if found != (sorted(inputs), sorted(outputs)):
            raise RuntimeError(f"{path} has inputs/outputs {found}, expected {inputs} -> {outputs}")
        return runner

    def encode(self, image: np.ndarray) -> np.ndarray:
        (name,) = ENCODER_INPUTS
        out = self._encoder(**{name: np.ascontiguousarray(image, np.float32)})
        return out[ENCODER_OUTPUTS[0]].copy()

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        logits, ious = [], []
        for feed in decoder_feeds(embeddings, prompts, self.max_points):
            out = self._decoder(**feed)
            logits.append(out[DECODER_OUTPUTS[0]].copy())
            ious.append(out[DECODER_OUTPUTS[1]].copy())
        return np.concatenate(logits), np.concatenate(ious)
