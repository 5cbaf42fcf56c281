"""A deterministic oracle runtime over synthetic scenes: ground truth for everything-mode.

Untrained weights produce no meaningful masks, so segment-everything is tested (and benchmarked)
with this test double behind the :class:`~tinysam_mobile.runtimes.Runtime` interface. A scene is an
integer label map: ``0`` is clutter no mask is true for, ``k >= 1`` are the objects (including
"stuff" regions such as sky and ground, which SAM also segments). For a positive point the oracle
answers like a confident decoder: mask token 2 is the object under the point, with logits
``16 tanh(d / 1.5)`` of the signed distance ``d`` (in low-res cells, from the image at input
resolution) to the object's border, so the border is sub-cell accurate, τ = 8.5 is crossed about
one cell inside and deep interiors saturate at 16; its predicted IoU is 0.96. Tokens 1 and 3 are
an eroded and a dilated version (logits -6 / +6) with IoU 0.80 and 0.75. On clutter it returns a
small weak blob with IoU 0.40, which the IoU filter rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from .. import contract, transforms
from ..contract import LABEL_FOREGROUND
from ..prompts import PromptBatch

EMBEDDING_SHAPE = (1, 256, 64, 64)
TOKEN_IOUS = np.array([0.80, 0.96, 0.75], dtype=np.float32)
CLUTTER_IOU = 0.40
LOGIT_SCALE = 16.0
TOKEN_SHIFT = 6.0
LOGIT_SOFTNESS = 1.5


@dataclass(frozen=True)
class Scene:
    """``labels`` ``H x W`` int32: 0 clutter, ``k >= 1`` object ``k``."""

    labels: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.labels.shape[0], self.labels.shape[1]

    @property
    def object_ids(self) -> list[int]:
        return [int(k) for k in np.unique(self.labels) if k > 0]

    def mask(self, object_id: int) -> np.ndarray:
        return self.labels == object_id

    def image(self) -> np.ndarray:
        """An RGB rendering (flat colour per label); the oracle ignores pixels, the tools need one."""
        palette = np.random.default_rng(7).integers(0, 256, size=(int(self.labels.max()) + 1, 3))
        return palette[self.labels].astype(np.uint8)


def synthetic_scene(height: int, width: int, seed: int, objects: int = 8) -> Scene:
    """Sky band (top 35%), ground band (bottom 30%), clutter between, and non-overlapping objects.

    Objects are rectangles and ellipses of 10-25% of the short side, placed with disjoint bounding
    boxes (so box NMS cannot merge two true objects) over the bands or the clutter.
    """
    rng = np.random.default_rng(seed)
    labels = np.zeros((height, width), dtype=np.int32)
    labels[: int(0.35 * height)] = 1
    labels[int(0.70 * height) :] = 2
    placed: list[tuple[int, int, int, int]] = []
    short = min(height, width)
    yy, xx = np.mgrid[:height, :width]
    for _ in range(200 * objects):
        if len(placed) == objects:
            break
        h, w = (int(rng.uniform(0.10, 0.25) * short) for _ in range(2))
        y0, x0 = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        box = (y0, x0, y0 + h, x0 + w)
        margin = short // 40
        if any(_boxes_touch(box, other, margin) for other in placed):
            continue
        placed.append(box)
        if rng.random() < 0.5:
            shape = (yy >= y0) & (yy < y0 + h) & (xx >= x0) & (xx < x0 + w)
        else:
            cy, cx = y0 + (h - 1) / 2, x0 + (w - 1) / 2
            shape = ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0
        labels[shape] = len(placed) + 2
    return Scene(labels)


def _boxes_touch(box: tuple[int, ...], other: tuple[int, ...], margin: int) -> bool:
    """Whether two ``(y0, x0, y1, x1)`` boxes overlap once grown by ``margin``."""
    return all(box[i] < other[i + 2] + margin and other[i] < box[i + 2] + margin for i in (0, 1))


def edge_scene(height: int, width: int) -> Scene:
    """Clutter with two thin objects along the right and bottom edges, 3/4 of a dense-grid cell wide."""
    labels = np.zeros((height, width), dtype=np.int32)
    labels[:, width - max(1, round(0.75 * width / 32)) :] = 1
    labels[height - max(1, round(0.75 * height / 32)) :, : width // 2] = 2
    return Scene(labels)


class OracleRuntime:
    """Answers decoder prompts from the scene's true masks; counts the prompts it decodes."""

    name = "oracle"
    max_points = None

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.input_size = transforms.preprocess_shape(*scene.size)
        self.prompts_decoded = 0
        self._logits = {k: self._object_logits(scene.mask(k)) for k in scene.object_ids}

    def _object_logits(self, mask: np.ndarray) -> np.ndarray:
        """Low-res logits ``256 x 256`` of one object in the padded decoder frame."""
        h, w = self.input_size
        size, stride = contract.LOW_RES_SIZE, contract.IMG_SIZE // contract.LOW_RES_SIZE
        inside = np.asarray(Image.fromarray(mask).resize((w, h), Image.Resampling.NEAREST))
        # Signed distance in input pixels, edge-replicated so the image border is no object border.
        inside = np.pad(inside, 1, mode="edge")
        distance = ndimage.distance_transform_edt(inside) - ndimage.distance_transform_edt(~inside)
        distance = (distance - 0.5 * np.sign(distance))[1:-1, 1:-1]
        low_h, low_w = -(-h // stride), -(-w // stride)
        frame = np.pad(distance, ((0, low_h * stride - h), (0, low_w * stride - w)), mode="edge")
        cells = frame.reshape(low_h, stride, low_w, stride).mean((1, 3)) / stride
        logits = np.full((size, size), -LOGIT_SCALE, np.float32)
        logits[:low_h, :low_w] = LOGIT_SCALE * np.tanh(cells / LOGIT_SOFTNESS)
        return logits

    def encode(self, image: np.ndarray) -> np.ndarray:
        if image.shape != (1, 3, contract.IMG_SIZE, contract.IMG_SIZE):
            raise ValueError(f"encoder input must be 1 x 3 x 1024 x 1024, got {image.shape}")
        return np.zeros(EMBEDDING_SHAPE, np.float32)

    def object_at(self, point: np.ndarray) -> int:
        """The label under a point given in the 1024 input frame."""
        height, width = self.scene.size
        x = int(np.clip(point[0] * width / self.input_size[1], 0, width - 1))
        y = int(np.clip(point[1] * height / self.input_size[0], 0, height - 1))
        return int(self.scene.labels[y, x])

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        size = contract.LOW_RES_SIZE
        logits = np.empty((prompts.batch, 3, size, size), np.float32)
        ious = np.empty((prompts.batch, 3), np.float32)
        for b in range(prompts.batch):
            positives = np.flatnonzero(prompts.labels[b] == LABEL_FOREGROUND)
            if positives.size == 0:
                raise ValueError("the oracle answers prompts with at least one foreground point")
            point = prompts.coords[b, positives[0]]
            label = self.object_at(point)
            if label == 0:
                logits[b] = self._clutter_blob(point)
                ious[b] = CLUTTER_IOU
            else:
                base = self._logits[label]
                logits[b] = np.stack([base - TOKEN_SHIFT, base, base + TOKEN_SHIFT])
                ious[b] = TOKEN_IOUS
        self.prompts_decoded += prompts.batch
        return logits, ious

    @staticmethod
    def _clutter_blob(point: np.ndarray) -> np.ndarray:
        size, stride = contract.LOW_RES_SIZE, contract.IMG_SIZE // contract.LOW_RES_SIZE
        yy, xx = np.mgrid[:size, :size]
        distance = np.hypot(xx + 0.5 - point[0] / stride, yy + 0.5 - point[1] / stride)
        return np.broadcast_to(np.clip(3.0 - distance, -4.0, 3.0).astype(np.float32), (3, size, size))
