"""Quantization recipes: TOML files under ``quant_recipes/<target>/``, validated by one schema.

A recipe says *how* each program is quantized, in the scheme's name and in the backend's own
options, and which parity contract the artifact must meet. Unknown keys, wrong types and unknown
values are errors that name the file and the key. Schema (version 2)::

    schema = 2
    name = "w8a8"                    # required, equals the file stem; names state the scheme
    aliases = ["int8"]               # earlier names that still select this recipe
    target = "tflite"                # required, equals the folder
    description = "..."              # required
    runnable_on = ["linux", "darwin"]  # platforms whose real runtime runs the artifact (default:
                                     # any); elsewhere parity is "not checked", never passed

    [encoder] / [decoder]            # required
    scheme = "w8a8"                  # see SCHEMES below; allowed values depend on the target
    [decoder.ai_edge_quantizer]      # options for the backend's own configuration (its name:
    static_int8_ops = [...]          # the target's OPTIONS_TABLE), checked by the target

    [calibration]                    # required when a scheme quantizes activations statically
    images = 3                       # bundled photos (or --calibration-dir), each also mirrored
    prompts_per_image = 16           # sampled point / box / mask prompts for the decoder
    seed = 0

    [parity]                         # the contract, see Thresholds below
    judge = "trained"                # "always" (exactness, any weights) or "trained" (quality)
    photos = 3                       # bundled photos the parity check runs on
    min_mask_iou = 0.8               # ... any Thresholds field; absent ones keep their default,
    max_logit_abs = false            # false disables a bound

Schemes (one name means one thing on every target): ``fp32``; ``fp16`` (fp16 weights and
compute); ``fp16_weights`` (fp16 weights, fp32 compute); ``w8_fp16`` (int8 weights, fp16 compute);
``palette4_fp16`` / ``palette6_fp16`` (4 / 6-bit weight palettes, fp16 compute); ``w8_dynamic``
(int8 weights, activations quantized on the fly); ``w8a8`` (int8 weights and statically quantized
int8 activations where the backend options say).
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA = 2
SCHEMES = frozenset(
    {"fp32", "fp16", "fp16_weights", "w8_fp16", "palette4_fp16", "palette6_fp16", "w8_dynamic", "w8a8"}
)
# Schemes with statically quantized activations, in any target.
CALIBRATED_SCHEMES = frozenset({"w8a8"})
DEFAULT_PARITY_PHOTOS = 3


class RecipeError(ValueError):
    """A recipe file is missing or invalid; the message names the file and the key."""


JUDGES = ("always", "trained")

# summary metric -> (threshold field, True when larger is better)
METRICS = {
    "max_logit_abs": ("max_logit_abs", False),
    "min_logit_cosine": ("min_logit_cosine", True),
    "min_mask_iou": ("min_mask_iou", True),
    "mean_mask_iou": ("min_mean_mask_iou", True),
    "max_iou_delta": ("max_iou_delta", False),
    "mean_best_mask_agreement": ("min_mean_best_mask_agreement", True),
    "min_embedding_cosine": ("min_embedding_cosine", True),
}

# summary metric -> the per-case metric it bounds (the means and the embedding have none)
CASE_METRICS = {
    "max_logit_abs": "logit_max_abs",
    "min_logit_cosine": "logit_cosine",
    "min_mask_iou": "mask_iou",
    "max_iou_delta": "iou_delta",
}


@dataclass(frozen=True)
class Thresholds:
    """A recipe's parity contract: bounds on the report's summary (``None``: not checked).

    ``judge``: ``"always"`` for contracts that hold for any weights (fp32 exactness), ``"trained"``
    for quality contracts, which only a trained checkpoint can be judged by (untrained logits are
    about ±0.25 and their masks noise: the metrics are reported, not judged). The defaults are the
    fp32 contract.
    """

    judge: str = "always"
    max_logit_abs: float | None = 1e-3
    min_logit_cosine: float | None = 0.99999
    min_mask_iou: float | None = 0.999
    min_mean_mask_iou: float | None = None
    max_iou_delta: float | None = 1e-3
    min_mean_best_mask_agreement: float | None = 1.0
    min_embedding_cosine: float | None = 0.99999

    def __post_init__(self) -> None:
        if self.judge not in JUDGES:
            raise ValueError(f"judge must be one of {JUDGES}, got {self.judge!r}")

    def judges(self, untrained: bool) -> bool:
        """Whether these bounds apply to a checkpoint (``untrained``: seeded random weights)."""
        return self.judge == "always" or not untrained

    def failures(self, summary: dict[str, float]) -> list[str]:
        """Human-readable list of the bounds ``summary`` violates (empty when it passes)."""
        out = []
        for metric in METRICS:
            bound = self._violated(metric, summary[metric])
            if bound is not None:
                out.append(f"{metric}: measured {summary[metric]:.6g}, bound {bound:.6g}")
        return out

    def case_failures(self, metrics: dict[str, float]) -> list[str]:
        """Short list of the bounds one case's ``metrics`` violate (see :data:`CASE_METRICS`)."""
        out = []
        for metric, key in CASE_METRICS.items():
            bound = self._violated(metric, metrics[key])
            if bound is not None:
                out.append(f"{key} {metrics[key]:.4g} {'<' if METRICS[metric][1] else '>'} {bound:.6g}")
        return out

    def _violated(self, metric: str, value: float) -> float | None:
        """The bound on summary ``metric`` when ``value`` violates it, else ``None``."""
        field_name, larger_is_better = METRICS[metric]
        bound = getattr(self, field_name)
        if bound is None or (value >= bound if larger_is_better else value <= bound):
            return None
        return bound


OptionsCheck = Callable[[str, str, dict[str, Any]], dict[str, Any]]  # (scheme, program, options)


@dataclass(frozen=True)
class Calibration:
    """How activations are calibrated: bundled photos (and their mirror images when
    ``mirrored``), sampled decoder prompts per encoder sample."""

    images: int = 3
    prompts_per_image: int = 16
    seed: int = 0
    mirrored: bool = True


@dataclass(frozen=True)
class ProgramRecipe:
    """The scheme of one program and the backend options that say how it is applied."""

    scheme: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """A validated recipe."""

    name: str
    target: str
    description: str
    encoder: ProgramRecipe
    decoder: ProgramRecipe
    calibration: Calibration | None
    parity: Thresholds
    parity_photos: int = DEFAULT_PARITY_PHOTOS
    aliases: tuple[str, ...] = ()
    runnable_on: tuple[str, ...] | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def program(self, name: str) -> ProgramRecipe:
        """The recipe of ``"encoder"`` or ``"decoder"``."""
        return {"encoder": self.encoder, "decoder": self.decoder}[name]

    @property
    def calibrated(self) -> bool:
        """Whether a program quantizes activations statically, so calibration data is needed."""
        return bool({self.encoder.scheme, self.decoder.scheme} & CALIBRATED_SCHEMES)

    def runnable_here(self, platform: str = sys.platform) -> bool:
        """Whether the artifact's real runtime runs on ``platform`` (``sys.platform`` form)."""
        return self.runnable_on is None or platform in self.runnable_on


_TOP_KEYS = {
    "schema",
    "name",
    "aliases",
    "target",
    "description",
    "runnable_on",
    "encoder",
    "decoder",
    "calibration",
    "parity",
}


def recipe_dir(target: str) -> Path:
    """Folder holding the recipes of ``target``."""
    return Path(str(resources.files("tinysam_mobile.quant_recipes") / target))


def list_recipes(target: str) -> list[str]:
    """Recipe names available for ``target``."""
    return sorted(p.stem for p in recipe_dir(target).glob("*.toml"))


def _aliases(target: str) -> dict[str, str]:
    """Alias -> recipe name for ``target``'s shipped recipes."""
    out = {}
    for path in recipe_dir(target).glob("*.toml"):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError:
            continue
        for alias in data.get("aliases", []):
            out[alias] = path.stem
    return out


def load_recipe(
    target: str, name: str, schemes: frozenset[str], options_table: str, check_options: OptionsCheck
) -> Recipe:
    """Load and validate ``quant_recipes/<target>/<name>.toml`` (a name, an alias, or a path to
    a .toml file) against what the target's backend supports (its ``schemes``, its options table
    and its ``check_options``; :meth:`~tinysam_mobile.toolchain.converters.base.Backend.load_recipe`
    passes its own)."""
    if name.endswith(".toml"):
        path = Path(name)
    else:
        path = recipe_dir(target) / f"{_aliases(target).get(name, name)}.toml"
    if not path.is_file():
        known = ", ".join(list_recipes(target)) or "none"
        raise RecipeError(f"no recipe {name!r} for target {target!r}; known: {known}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: invalid TOML: {exc}") from None
    return parse_recipe(
        data, target, (schemes, options_table, check_options), where=str(path), stem=path.stem
    )


def parse_recipe(
    data: dict[str, Any],
    target: str,
    backend: tuple[frozenset[str], str, OptionsCheck],
    where: str,
    stem: str,
) -> Recipe:
    """Validate a recipe dict (see the module docstring) against ``backend`` = (schemes, options
    table name, options check)."""
    _no_unknown(data, _TOP_KEYS, where)
    for key in ("schema", "name", "target", "description", "encoder", "decoder"):
        if key not in data:
            raise RecipeError(f"{where}: missing required key {key!r}")
    if data["schema"] != SCHEMA:
        raise RecipeError(f"{where}: schema {data['schema']!r}, this tool reads schema {SCHEMA}")
    if data["name"] != stem:
        raise RecipeError(f"{where}: name {data['name']!r} must equal the file name {stem!r}")
    if data["target"] != target:
        raise RecipeError(f"{where}: target {data['target']!r} but the recipe is for {target!r}")
    programs = {name: _program(data[name], name, backend, where) for name in ("encoder", "decoder")}
    calibration = None
    if "calibration" in data:
        calibration = _dataclass_from(Calibration, data["calibration"], f"{where} [calibration]")
    parity_data = dict(_table(data.get("parity", {}), f"{where} [parity]"))
    photos = parity_data.pop("photos", DEFAULT_PARITY_PHOTOS)
    if not isinstance(photos, int) or isinstance(photos, bool) or photos < 1:
        raise RecipeError(f"{where} [parity] photos: expected a positive int, got {photos!r}")
    recipe = Recipe(
        name=data["name"],
        target=target,
        description=str(data["description"]),
        encoder=programs["encoder"],
        decoder=programs["decoder"],
        calibration=calibration,
        parity=_dataclass_from(Thresholds, parity_data, f"{where} [parity]"),
        parity_photos=photos,
        aliases=tuple(_strings(data.get("aliases", []), f"{where} aliases")),
        runnable_on=tuple(_strings(data["runnable_on"], f"{where} runnable_on"))
        if "runnable_on" in data
        else None,
        source=data,
    )
    if recipe.calibrated and calibration is None:
        raise RecipeError(f"{where}: a statically quantized recipe needs a [calibration] section")
    return recipe


def _program(
    value: Any, name: str, backend: tuple[frozenset[str], str, OptionsCheck], where: str
) -> ProgramRecipe:
    schemes, table, check_options = backend
    section = _table(value, f"{where} [{name}]")
    _no_unknown(section, {"scheme", table}, f"{where} [{name}]")
    scheme = section.get("scheme")
    if scheme not in SCHEMES:
        raise RecipeError(f"{where} [{name}] scheme {scheme!r} is not a scheme; known: {sorted(SCHEMES)}")
    if scheme not in schemes:
        raise RecipeError(f"{where} [{name}] scheme {scheme!r}: this target implements {sorted(schemes)}")
    options = _table(section.get(table, {}), f"{where} [{name}.{table}]")
    try:
        checked = check_options(scheme, name, dict(options))
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{where} [{name}.{table}]: {exc}") from None
    return ProgramRecipe(scheme, checked)


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"{where}: expected a list of strings, got {value!r}")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecipeError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _no_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _dataclass_from(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build a frozen dataclass from a TOML table, checking keys and value types (for optional
    float fields, ``false`` means ``None``: the bound is not checked)."""
    spec = {f.name: f for f in fields(cls)}
    _no_unknown(_table(data, where), set(spec), where)
    values = {}
    for key, value in data.items():
        default = getattr(cls(), key)
        optional_float = "float | None" in str(spec[key].type)
        if optional_float and value is False:
            values[key] = None
            continue
        kind = float if optional_float or isinstance(default, float) else type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool):
            raise RecipeError(f"{where} {key}: expected {kind.__name__}, got {value!r}")
        values[key] = value
    try:
        return cls(**values)
    except ValueError as exc:
        raise RecipeError(f"{where}: {exc}") from None
