"""The toy target's converter: ``torch.export`` of each program, saved as ``.pt2``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from tinysam_mobile.toolchain.converters.base import Backend, ProgramJob


class ToyBackend(Backend):
    """fp32 programs as exported by ``torch.export`` (no options)."""

    schemes = frozenset({"fp32"})
    options_table = "toy"

    def convert_program(self, job: ProgramJob, path: Path, progress: Callable[[str], None] = print) -> Path:
        with torch.no_grad():
            torch.export.save(torch.export.export(job.module.eval(), job.example), path)
        return path

    def tool_versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}


BACKEND = ToyBackend("toy")
