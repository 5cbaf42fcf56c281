"""Training progress: a single in-place line on a terminal, plain lines elsewhere, and a log file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO


class TrainLog:
    """Events and per-step metrics of rank 0.

    On a terminal the progress line is redrawn in place every step; otherwise (and in the log
    file, appended to) one line is written every ``every`` steps. Events always get a line.
    """

    def __init__(self, path: Path | None, every: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.every = max(1, every)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a", buffering=1) if path else None  # noqa: SIM115 - closed in close()
        self._open_line = False
        self._smoothed: dict[str, float] = {}

    def event(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.file:
            self.file.write(line + "\n")

    def progress(self, step: int, total: int, metrics: dict[str, float], info: str) -> None:
        """Record ``metrics`` of step ``step`` (1-based count of finished steps)."""
        for key, value in metrics.items():
            old = self._smoothed.get(key)
            self._smoothed[key] = value if old is None else 0.9 * old + 0.1 * value
        shown = " ".join(f"{k} {v:.4g}" for k, v in self._smoothed.items())
        line = f"step {step}/{total} {shown} {info}"
        if self.stream.isatty():
            self.stream.write("\r" + line + "\033[K")
            self.stream.flush()
            self._open_line = True
        if step % self.every == 0 or step == total:
            if not self.stream.isatty():
                self.stream.write(line + "\n")
                self.stream.flush()
            if self.file:
                self.file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
        if self.file:
            self.file.close()
