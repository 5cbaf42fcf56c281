"""Quantization recipes: TOML files under ``quant_recipes/<target>/``, validated by one schema.

A recipe says *what* (precision per program, calibration, parity thresholds); the target's
converter decides *how*. Unknown keys, wrong types and unknown values are errors that name the
file and the key.

Schema (every section optional unless noted)::

    name = "xnnpack_int8"            # required, equals the file stem
    target = "executorch"            # required, equals the folder
    description = "..."              # required
    [encoder] / [decoder]
    precision = "fp32" | "fp16" | "int8" | ...   # required; allowed values depend on the target
    [calibration]                    # required when a precision quantizes activations statically
    images = 3                       # bundled photos to use (or --calibration-dir)
    prompts_per_image = 16           # sampled point / box / mask prompts for the decoder
    seed = 0
    [parity]                         # thresholds; see tinysam_mobile.parity.Thresholds
    photos = 1                       # parity on the first N bundled photos (default: all of them)
    max_logit_abs = 1e-3
    ...
    [parity.by_config.tiny-test]     # overrides for another model config
    ...
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from .parity import Thresholds


class RecipeError(ValueError):
    """A recipe file is missing or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Calibration:
    """How activations are calibrated: bundled photos, sampled decoder prompts."""

    images: int = 3
    prompts_per_image: int = 16
    seed: int = 0


@dataclass(frozen=True)
class Recipe:
    """A validated recipe."""

    name: str
    target: str
    description: str
    encoder_precision: str
    decoder_precision: str
    calibration: Calibration | None
    parity: Thresholds
    parity_by_config: dict[str, Thresholds] = field(default_factory=dict)
    parity_photos: int | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def thresholds(self, config_name: str) -> Thresholds:
        """Parity thresholds for a model config (falls back to the recipe's default)."""
        return self.parity_by_config.get(config_name, self.parity)

    @property
    def calibrated(self) -> bool:
        """Whether a program quantizes activations statically, so calibration data is needed."""
        return bool({self.encoder_precision, self.decoder_precision} & CALIBRATED_PRECISIONS)


# Precisions with statically quantized activations, in any target.
CALIBRATED_PRECISIONS = frozenset({"int8", "w8a8"})

_TOP_KEYS = {"name", "target", "description", "encoder", "decoder", "calibration", "parity"}


def recipe_dir(target: str) -> Path:
    """Folder holding the recipes of ``target``."""
    return Path(str(resources.files("tinysam_mobile.quant_recipes") / target))


def list_recipes(target: str) -> list[str]:
    """Recipe names available for ``target``."""
    return sorted(p.stem for p in recipe_dir(target).glob("*.toml"))


def load_recipe(target: str, name: str, precisions: frozenset[str]) -> Recipe:
    """Load and validate ``quant_recipes/<target>/<name>.toml`` (or a path to a .toml file)."""
    path = Path(name) if name.endswith(".toml") else recipe_dir(target) / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(list_recipes(target)) or "none"
        raise RecipeError(f"no recipe {name!r} for target {target!r}; known: {known}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: invalid TOML: {exc}") from None
    return parse_recipe(data, target, precisions, where=str(path), stem=path.stem)


def parse_recipe(
    data: dict[str, Any], target: str, precisions: frozenset[str], where: str, stem: str
) -> Recipe:
    """Validate a recipe dict (see the module docstring)."""
    _no_unknown(data, _TOP_KEYS, where)
    for key in ("name", "target", "description", "encoder", "decoder"):
        if key not in data:
            raise RecipeError(f"{where}: missing required key {key!r}")
    if data["name"] != stem:
        raise RecipeError(f"{where}: name {data['name']!r} must equal the file name {stem!r}")
    if data["target"] != target:
        raise RecipeError(f"{where}: target {data['target']!r} but the recipe is for {target!r}")
    program_precision = {}
    for program in ("encoder", "decoder"):
        section = _table(data[program], f"{where} [{program}]")
        _no_unknown(section, {"precision"}, f"{where} [{program}]")
        precision = section.get("precision")
        if precision not in precisions:
            raise RecipeError(
                f"{where} [{program}] precision {precision!r}: expected one of {sorted(precisions)}"
            )
        program_precision[program] = precision
    calibration = None
    if "calibration" in data:
        calibration = _dataclass_from(Calibration, data["calibration"], f"{where} [calibration]")
    parity_data = dict(_table(data.get("parity", {}), f"{where} [parity]"))
    by_config_data = _table(parity_data.pop("by_config", {}), f"{where} [parity.by_config]")
    photos = parity_data.pop("photos", None)
    if photos is not None and (not isinstance(photos, int) or isinstance(photos, bool) or photos < 1):
        raise RecipeError(f"{where} [parity] photos: expected a positive int, got {photos!r}")
    parity = _dataclass_from(Thresholds, parity_data, f"{where} [parity]")
    by_config = {
        cfg: _dataclass_from(
            Thresholds, {**parity_data, **_table(v, cfg)}, f"{where} [parity.by_config.{cfg}]"
        )
        for cfg, v in by_config_data.items()
    }
    recipe = Recipe(
        name=data["name"],
        target=target,
        description=str(data["description"]),
        encoder_precision=program_precision["encoder"],
        decoder_precision=program_precision["decoder"],
        calibration=calibration,
        parity=parity,
        parity_by_config=by_config,
        parity_photos=photos,
        source=data,
    )
    if recipe.calibrated and calibration is None:
        raise RecipeError(f"{where}: a statically quantized recipe needs a [calibration] section")
    return recipe


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecipeError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _no_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _dataclass_from(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build a frozen dataclass from a TOML table, checking keys and value types."""
    spec = {f.name: f for f in fields(cls)}
    _no_unknown(_table(data, where), set(spec), where)
    values = {}
    for key, value in data.items():
        default = getattr(cls(), key)
        kind = float if isinstance(default, float) else type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool):
            raise RecipeError(f"{where} {key}: expected {kind.__name__}, got {value!r}")
        values[key] = value
    return cls(**values)
