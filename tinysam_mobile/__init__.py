"""tinysam-mobile: TinySAM as ExecuTorch, Core ML and LiteRT artifacts, with a float reference."""

from .checkpoints import load_checkpoint
from .modeling import Sam, build_sam
from .predictor import Predictor

__all__ = ["Predictor", "Sam", "build_sam", "load_checkpoint"]
__version__ = "0.1.0"
