"""Converters: one :class:`~.base.Backend` per target, found through the targets registry
(:data:`tinysam_mobile.targets.TARGETS`); each backend module imports its converter packages, so
only the backend asked for needs them installed."""

from __future__ import annotations

from tinysam_mobile.targets import TARGETS, get_target, import_object

from .base import Backend, ProgramJob, Programs

__all__ = ["TARGETS", "Backend", "ProgramJob", "Programs", "get_backend"]


def get_backend(name: str) -> Backend:
    """The backend of target ``name`` (an unknown target or a missing backend package is an error
    that says what to do)."""
    target = get_target(name)
    backend = import_object(target, target.backend)
    if not isinstance(backend, Backend):
        raise TypeError(f"{target.backend} is not a Backend")
    return backend
