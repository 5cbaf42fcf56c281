"""tinysam-mobile: TinySAM as ExecuTorch, Core ML, LiteRT (and Core AI) artifacts, proven against
a float reference. The names below import lazily, so ``import tinysam_mobile`` stays light and
the inference names never import the toolchain (:mod:`tinysam_mobile.toolchain`)::

    from tinysam_mobile import SamPredictor, SamAutomaticMaskGenerator, sam_model_registry

    sam = sam_model_registry["vit_t"](checkpoint="tinysam_42.3.pth")
    predictor = SamPredictor(sam)                      # or Predictor.from_pretrained("tinysam-42.3")
    predictor = Predictor.from_bundle("out/coreml-fp16")   # a converted bundle, same API
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# public name -> module that defines it
_EXPORTS = {
    "Predictor": "predictor",
    "SamPredictor": "predictor",
    "AutoMaskGenerator": "automatic_mask_generator",
    "SamAutomaticMaskGenerator": "automatic_mask_generator",
    "EverythingConfig": "automatic_mask_generator",
    "build_sam": "build_sam",
    "sam_model_registry": "build_sam",
    "load_checkpoint": "checkpoints",
    "Sam": "modeling",
    "build_untrained": "modeling",
    "open_bundle": "bundle",
    "build_bundle": "toolchain.build",
}
__all__ = [
    "AutoMaskGenerator",
    "EverythingConfig",
    "Predictor",
    "Sam",
    "SamAutomaticMaskGenerator",
    "SamPredictor",
    "__version__",
    "build_bundle",
    "build_sam",
    "build_untrained",
    "load_checkpoint",
    "open_bundle",
    "sam_model_registry",
]

if TYPE_CHECKING:
    from .automatic_mask_generator import AutoMaskGenerator, EverythingConfig, SamAutomaticMaskGenerator
    from .build_sam import build_sam, sam_model_registry
    from .bundle import open_bundle
    from .checkpoints import load_checkpoint
    from .modeling import Sam, build_untrained
    from .predictor import Predictor, SamPredictor
    from .toolchain.build import build_bundle


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
