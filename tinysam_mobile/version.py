"""The installed package's version (``0+unknown`` when run from a source tree never installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tinysam-mobile")
except PackageNotFoundError:
    __version__ = "0+unknown"
