"""Bundles as the inference side sees them: the manifest contract the apps read, its schema, and
opening a bundle as a runtime. Building one is the toolchain's job
(:mod:`tinysam_mobile.toolchain.build`)."""

from .manifest import MANIFEST, SCHEMA_VERSION, read_manifest
from .open import open_bundle
from .schema import BundleError

__all__ = ["MANIFEST", "SCHEMA_VERSION", "BundleError", "open_bundle", "read_manifest"]
