"""Bundles: building one (convert, prove parity, write the manifest), the manifest contract the
apps read, and opening a bundle as a runtime."""

from .build import BuildResult, ParityFailure, build_bundle
from .manifest import MANIFEST, SCHEMA_VERSION, read_manifest
from .open import open_bundle

__all__ = [
    "MANIFEST",
    "SCHEMA_VERSION",
    "BuildResult",
    "ParityFailure",
    "build_bundle",
    "open_bundle",
    "read_manifest",
]
