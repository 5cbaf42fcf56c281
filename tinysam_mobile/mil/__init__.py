"""A torch interpreter for Core ML ML Programs (MIL), used to prove Core ML parity on Linux."""

from .interpreter import MilInterpreter, UnsupportedOpError, load_program, supported_ops

__all__ = ["MilInterpreter", "UnsupportedOpError", "load_program", "supported_ops"]
