"""``Predictor``: encode an image once, then answer point / box / mask prompts.

Semantics of the official TinySAM ``SamPredictor``: three masks from mask tokens 1..3 with their
predicted IoUs; a padding point is appended when points come without a box. ``multimask_output``
(absent in the official API) selects, when ``False``, the best of the three by predicted IoU.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import transforms
from .checkpoints import DEFAULT_CHECKPOINT, load_checkpoint
from .contract import MASK_THRESHOLD
from .images import load_image
from .modeling import Sam
from .prompt_validation import CheckedPrompt, PromptWarning, check_prompt
from .prompts import PromptBatch, pack_prompt
from .runtimes import Runtime, TorchRuntime


class BrokenModelError(RuntimeError):
    """A model or bundle answered NaN or infinite values."""


def check_finite_answer(runtime: Runtime, low_res: np.ndarray, iou: np.ndarray) -> None:
    """:class:`BrokenModelError` unless a decoder's logits and IoU predictions are all finite."""
    if not (np.isfinite(iou).all() and np.isfinite(low_res).all()):
        raise BrokenModelError(
            f"the {runtime.name} model answered NaN or infinite values: its weights or programs are broken"
        )


class Predictor:
    """Prompted segmentation over any :class:`~tinysam_mobile.runtimes.Runtime` (numpy in and out).

    ``Predictor(model)`` takes a float :class:`Sam` (what SAM's ``SamPredictor(sam)`` takes) or any
    runtime; :meth:`from_pretrained` loads a checkpoint and :meth:`from_bundle` opens a converted
    bundle.
    """

    def __init__(self, model: Sam | Runtime) -> None:
        self.runtime: Runtime = TorchRuntime(model) if isinstance(model, Sam) else model
        self.reset_image()

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = DEFAULT_CHECKPOINT) -> Predictor:
        """The float model of a checkpoint: a known name, a path, an http(s) URL or
        ``untrained[:SEED]`` (see :func:`tinysam_mobile.load_checkpoint`)."""
        return cls(load_checkpoint(os.fspath(name_or_path)).model)

    @classmethod
    def from_bundle(cls, bundle_dir: str | os.PathLike[str], num_threads: int | None = None) -> Predictor:
        """A converted bundle's programs on their runtime (manifest and hashes verified first)."""
        from .bundle import open_bundle

        return cls(open_bundle(Path(bundle_dir), num_threads=num_threads))

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self._features: np.ndarray | None = None
        self.original_size: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None

    @property
    def is_image_set(self) -> bool:
        return self._features is not None

    def set_image(
        self, image: np.ndarray | Image.Image | str | os.PathLike[str], image_format: str = "RGB"
    ) -> None:
        """Encode ``image``: ``H x W x 3`` uint8 array, PIL image or file path (read by
        :func:`tinysam_mobile.images.load_image`: upright, every mode by its rule)."""
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        if isinstance(image, str | os.PathLike):
            rgb = load_image(image, reduce=False).pixels
        else:
            rgb = transforms.as_rgb_uint8(image)
        if image_format == "BGR":
            rgb = np.ascontiguousarray(rgb[..., ::-1])
        tensor, input_size = transforms.preprocess(rgb)
        self.reset_image()
        self._features = self.runtime.encode(tensor)
        self.original_size = (rgb.shape[0], rgb.shape[1])
        self.input_size = input_size

    def get_image_embedding(self) -> np.ndarray:
        """The current image embedding, ``1 x 256 x 64 x 64`` float32."""
        return self._require_image()

    def _require_image(self) -> np.ndarray:
        if self._features is None:
            raise RuntimeError("no image is set: call set_image(image) before predicting")
        return self._features

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predict masks for one prompt given in original-image pixels.

        Args:
            point_coords: ``K x 2`` (X, Y); requires ``point_labels`` (``K``, 1 fg / 0 bg).
            box: XYXY, 4 values.
            mask_input: ``1 x 256 x 256`` low-res logits from a previous call.
        Returns:
            ``(masks 3 x H x W bool, or float logits with return_logits; iou 3; low-res 3 x 256 x 256)``,
            or 1 instead of 3 along the first axis when ``multimask_output`` is False.
        """
        features = self._require_image()
        assert self.original_size is not None and self.input_size is not None
        prompt = check_prompt(
            point_coords,
            point_labels,
            box,
            mask_input,
            image_size=self.original_size,
            max_points=self.runtime.max_points,
        )
        for message in prompt.warnings:
            warnings.warn(message, PromptWarning, stacklevel=2)
        low_res, iou = self.runtime.decode(features, self._prompt_batch(prompt))
        check_finite_answer(self.runtime, low_res, iou)
        low_res, iou = low_res[0], iou[0]
        if not multimask_output:
            best = int(np.argmax(iou))
            low_res, iou = low_res[best : best + 1], iou[best : best + 1]
        logits = transforms.upscale_logits(
            torch.from_numpy(low_res[None]), self.input_size, self.original_size
        )
        masks = logits[0].numpy()
        if not return_logits:
            masks = masks > MASK_THRESHOLD
        return masks, iou, low_res

    def _prompt_batch(self, prompt: CheckedPrompt) -> PromptBatch:
        """A validated prompt, packed in the 1024 frame."""
        assert self.original_size is not None
        coords = (
            None if prompt.points is None else transforms.transform_coords(prompt.points, self.original_size)
        )
        box = None if prompt.box is None else transforms.transform_boxes(prompt.box, self.original_size)[0]
        mask = None if prompt.mask_input is None else prompt.mask_input[None]
        packed_coords, packed_labels = pack_prompt(coords, prompt.labels, box)
        return PromptBatch(packed_coords[None], packed_labels[None], mask)


SamPredictor = Predictor  # segment-anything's name
