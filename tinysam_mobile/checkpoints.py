"""Resolve and load ``--checkpoint`` values: a path, an http(s) URL, a known name, or untrained.

* path: a float state dict in the official key layout (``tinysam.pth``, ``tinysam_42.3.pth``,
  MobileSAM's ``mobile_sam.pt``); a ``{"model": ...}`` / ``{"state_dict": ...}`` wrapper is unwrapped.
* URL: downloaded once into the cache dir (``$TINYSAM_CACHE`` or ``~/.cache/tinysam_mobile``),
  with a progress bar; append ``#sha256=<64 hex digits>`` to verify it (any other fragment is an
  error). A response that is not a checkpoint (an HTML page, a cut-short body) is never cached.
* known names: see :data:`KNOWN_CHECKPOINTS` (downloaded) and :data:`BUNDLED_CHECKPOINTS` (shipped
  in the package as fp16, loaded as float32).
* ``untrained`` or ``untrained:SEED``: a seeded random model, for offline runs and tests only.

Every download without a pinned sha256 is trusted on first download: its sha256 is recorded
beside it in the cache, and every later load checks the file against that record (a cached file
without a record is downloaded again). Files are read with ``torch.load(weights_only=True)``:
pickled code is never executed, and a refused pickle gets this module's message, naming what it
would import. Weights that are NaN or infinite are refused.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import torch

from . import console
from .assets import WEIGHTS_DIR
from .fs import atomic_file, file_sha256, write_atomic
from .modeling import TINYSAM, Sam, SamConfig, build_untrained
from .pickles import pickle_globals


class CheckpointError(Exception):
    """A checkpoint could not be resolved or does not fit the model; the message says why."""


@dataclass(frozen=True)
class KnownCheckpoint:
    """A published checkpoint: where it lives and, when known, its sha256 (none of the official
    releases publishes one, so they are trusted on first download, see the module docstring)."""

    url: str
    sha256: str | None
    description: str


KNOWN_CHECKPOINTS: dict[str, KnownCheckpoint] = {
    "tinysam-42.3": KnownCheckpoint(
        "https://github.com/xinghaochen/TinySAM/releases/download/3.0/tinysam_42.3.pth",
        None,
        "TinySAM, Jan 2025 release (42.3 COCO AP): the recommended default",
    ),
    "tinysam": KnownCheckpoint(
        "https://github.com/xinghaochen/TinySAM/releases/download/1.0/tinysam.pth",
        None,
        "TinySAM, first release (41.9 COCO AP)",
    ),
    "mobilesam": KnownCheckpoint(
        "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
        None,
        "MobileSAM (same architecture, encoder-only distillation)",
    ),
}
DEFAULT_CHECKPOINT = "tinysam-42.3"


@dataclass(frozen=True)
class BundledCheckpoint:
    """A checkpoint shipped in ``tinysam_mobile/assets/weights/`` as an fp16 state dict.

    ``sha256`` is None until a file is shipped; loading then fails with how to make one.
    """

    filename: str
    sha256: str | None
    description: str

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.filename


BUNDLED_CHECKPOINTS: dict[str, BundledCheckpoint] = {
    "tinysam-synthetic": BundledCheckpoint(
        "tinysam_synthetic_fp16.pth",
        "d480d2553fd7056fa16aff08fc009f0013208d43b4b38f0ff82b5be6c18adcc1",
        "TinySAM trained by this project on generated scenes (python -m tinysam_mobile.train), NOT the "
        "official weights: it segments the kind of objects it was trained on and is meant for demos, "
        "quantization gates and everything-mode checks while the official weights are out of reach",
    ),
}

_SAM_VIT = {768: "SAM ViT-B", 1024: "SAM ViT-L", 1280: "SAM ViT-H"}
_UNTRAINED = re.compile(r"^untrained(?::(\d+))?$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL = b"\x80"  # the PROTO opcode that starts every pickle of protocol 2 or later


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A model with its provenance: ``source`` as given, ``sha256`` of the file (``None`` for
    untrained and in-memory models)."""

    model: Sam
    source: str
    sha256: str | None

    @property
    def untrained(self) -> bool:
        return self.model.untrained

    @classmethod
    def of(cls, model: Sam) -> LoadedCheckpoint:
        """An in-memory model (untrained when built by ``build_untrained`` and never loaded)."""
        kind = "untrained" if model.untrained else "in-memory weights"
        return cls(model, f"{kind} ({model.config.name})", None)


def cache_dir() -> Path:
    """Where downloads are kept: ``$TINYSAM_CACHE`` or ``~/.cache/tinysam_mobile``."""
    return Path(os.environ.get("TINYSAM_CACHE", Path.home() / ".cache" / "tinysam_mobile"))


def load_checkpoint(spec: str | os.PathLike[str], config: SamConfig = TINYSAM) -> LoadedCheckpoint:
    """Resolve ``spec`` (path, URL, known name or ``untrained[:SEED]``; an ``os.PathLike`` is
    always a path) into a model in eval mode."""
    if isinstance(spec, os.PathLike):
        path = _local_file(os.fspath(spec))
        spec = os.fspath(spec)
    elif not isinstance(spec, str):
        raise CheckpointError(f"a checkpoint is a path, URL or name, got {type(spec).__name__}")
    elif match := _UNTRAINED.match(spec):
        seed = int(match.group(1) or 0)
        return LoadedCheckpoint(build_untrained(config, seed=seed), spec, None)
    else:
        path = resolve_path(spec)
    state_dict = read_state_dict(path)
    if spec in BUNDLED_CHECKPOINTS:  # fp16 on disk, float32 in memory
        state_dict = {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}
    model = build_untrained(config)
    apply_state_dict(model, state_dict, source=str(path))
    return LoadedCheckpoint(model.eval(), spec, file_sha256(path))


def resolve_path(spec: str) -> Path:
    """A local file for ``spec``: known names and URLs are downloaded into the cache first,
    bundled names are checked against their sha256."""
    if spec in BUNDLED_CHECKPOINTS:
        return _bundled_path(spec, BUNDLED_CHECKPOINTS[spec])
    if spec in KNOWN_CHECKPOINTS:
        known = KNOWN_CHECKPOINTS[spec]
        return download(known.url, known.sha256)
    if spec.startswith(("http://", "https://")):
        url, _, fragment = spec.partition("#")
        return download(url, _fragment_sha256(fragment, spec))
    return _local_file(spec)


def _fragment_sha256(fragment: str, spec: str) -> str | None:
    """The digest of a ``#sha256=<hex>`` URL fragment; any other fragment is an error."""
    if not fragment:
        return None
    digest = fragment.removeprefix("sha256=")
    if not fragment.startswith("sha256=") or not _SHA256.match(digest):
        raise CheckpointError(
            f"{spec}: the URL fragment #{fragment} is not understood; the only fragment is "
            "#sha256=<64 hex digits>, which verifies the download"
        )
    return digest.lower()


def _local_file(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.is_file():
        names = ", ".join([*KNOWN_CHECKPOINTS, *BUNDLED_CHECKPOINTS, "untrained[:SEED]"])
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CheckpointError(
            f"checkpoint {spec!r} {what}; give a checkpoint file, an http(s) URL or one of: {names}"
        )
    return path


def _bundled_path(name: str, bundled: BundledCheckpoint) -> Path:
    """The shipped file of a bundled checkpoint, verified; a clear error when it is not shipped."""
    how = (
        "train one with python -m tinysam_mobile.train, then write it with "
        "scripts/export_synthetic.py RUN/last.pt and register its sha256 in BUNDLED_CHECKPOINTS"
    )
    if bundled.sha256 is None or not bundled.path.is_file():
        raise CheckpointError(
            f"the bundled checkpoint {name!r} is not shipped in this build ({bundled.path}); {how}"
        )
    actual = file_sha256(bundled.path)
    if actual != bundled.sha256:
        raise CheckpointError(
            f"the bundled checkpoint {name!r} ({bundled.path}) has sha256 {actual}, expected "
            f"{bundled.sha256}: the file was changed; reinstall the package or re-export it"
        )
    return bundled.path


def save_half_precision(model: Sam, path: Path) -> str:
    """Save ``model``'s state dict with floating tensors in fp16 (official key layout), written
    atomically; returns the file's sha256. Raises ``ValueError`` if a weight overflows fp16."""
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            value = value.half()
            if not torch.isfinite(value).all():
                raise ValueError(
                    f"{key} does not fit in fp16 (max |w| {model.state_dict()[key].abs().max():.3g})"
                )
        state[key] = value
    with atomic_file(Path(path)) as partial:
        torch.save(state, partial)
    return file_sha256(path)


def download(url: str, sha256: str | None = None) -> Path:
    """Fetch ``url`` into the cache (once) and return the file; verifies ``sha256`` when given,
    otherwise the sha256 recorded at the first download (see the module docstring)."""
    name = Path(urlsplit(url).path).name or "checkpoint.pth"
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    target = cache_dir() / key / name
    record = target.with_name(target.name + ".sha256")
    if target.is_file() and _cache_hit(target, record, sha256, url):
        return target
    with atomic_file(target) as partial:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0)
                kind = response.headers.get("Content-Type") or ""
                done = _copy_with_progress(response, out, total, name)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CheckpointError(f"could not download {url}: {exc}") from exc
        if total and done != total:
            raise CheckpointError(f"the download of {url} was cut short ({done} of {total} bytes); retry")
        _check_checkpoint_bytes(partial, url, kind)
        _verify(partial, sha256, url)
        digest = file_sha256(partial)
    write_atomic(record, digest + "\n")
    if sha256 is None:
        print(
            f"note: no sha256 is published for {url}; recorded {digest[:12]}... in the cache, "
            "every later load is checked against it",
            file=console.err(),
        )
    return target


def _cache_hit(target: Path, record: Path, sha256: str | None, url: str) -> bool:
    """Whether the cached ``target`` may be used: it matches ``sha256``, or else the digest
    recorded at its download. A file without a record is downloaded again."""
    if sha256 is not None:
        _verify(target, sha256, url)
        return True
    if not record.is_file():
        return False
    recorded, actual = record.read_text().strip(), file_sha256(target)
    if actual != recorded:
        raise CheckpointError(
            f"the cached {target} has sha256 {actual[:12]}..., not the {recorded[:12]}... recorded when "
            f"it was downloaded from {url}: it was changed; delete {target.parent} to download it again"
        )
    return True


def _check_checkpoint_bytes(path: Path, url: str, content_type: str) -> None:
    """Refuse a response that cannot be a torch checkpoint (a zip archive or a pickle)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTOCOL):
        return
    if "html" in content_type.lower() or head.lstrip().startswith(b"<"):
        raise CheckpointError(f"{url} answered with a web page, not a checkpoint; check the URL")
    raise CheckpointError(
        f"{url} did not send a PyTorch checkpoint (it starts with {head[:16]!r}); check the URL"
    )


def _copy_with_progress(src, dst, total: int, label: str) -> int:
    """Copy a stream while drawing a one-line progress bar on the user's stderr; returns the bytes
    copied."""
    done, stream = 0, console.err()
    while chunk := src.read(1 << 20):
        dst.write(chunk)
        done += len(chunk)
        if total:
            filled = int(30 * done / total)
            bar = "#" * filled + "." * (30 - filled)
            stream.write(f"\rdownloading {label} [{bar}] {done / 1e6:.1f}/{total / 1e6:.1f} MB")
        else:
            stream.write(f"\rdownloading {label} {done / 1e6:.1f} MB")
        stream.flush()
    stream.write("\n")
    return done


def _verify(path: Path, sha256: str | None, url: str) -> None:
    if sha256 is None:
        return
    actual = file_sha256(path)
    if actual != sha256.lower():
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        raise CheckpointError(
            f"sha256 mismatch for {url}: expected {sha256}, got {actual}; the file was removed, "
            "retry or check the URL"
        )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a float state dict safely, with a specific error for each way a file can be wrong."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK") and not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is truncated or corrupt (a torch zip archive without its directory); "
            "delete it and download it again"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _unpickling_error(path, exc) from None
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise CheckpointError(f"{path} is not a PyTorch checkpoint or is truncated ({exc})") from None
    if isinstance(obj, dict):
        for wrapper in ("model", "state_dict"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (found {type(obj).__name__})")
    _reject_foreign_model(path, obj)
    _reject_non_finite(path, obj)
    return obj


def _reject_non_finite(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Weights with NaN or infinite values answer nonsense: name the first such tensor."""
    broken = [k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        count = int((~torch.isfinite(state_dict[broken[0]])).sum())
        raise CheckpointError(
            f"{path} is refused: {broken[0]} holds {count} NaN or infinite values"
            + (f" (and {len(broken) - 1} more tensors)" if len(broken) > 1 else "")
            + "; the weights are broken (a diverged training run, a bad conversion)"
        )


def _unpickling_error(path: Path, exc: pickle.UnpicklingError) -> CheckpointError:
    """This module's message for a file torch's safe loader refuses (never torch's own advice)."""
    message = str(exc)
    if "truncated" in message:
        return CheckpointError(f"{path} is truncated; delete it and download it again")
    classes = pickle_globals(path)
    if any(name.startswith("quantization_layer") for name in classes):
        return CheckpointError(
            f"{path} looks like the official tinysam_w8a8.pth: a pickled fake-quantization module "
            "(quantization_layer.*), not a state dict. It is refused: loading it would execute "
            "pickled code (this project only uses weights_only=True), and it holds fp32 weights "
            "with simulated quantization, which no mobile runtime can use. Start from the float "
            "checkpoint (tinysam-42.3) and pick one of this project's quant recipes instead."
        )
    if classes or "Weights only load failed" in message:
        what = f" ({', '.join(classes[:3])})" if classes else ""
        return CheckpointError(
            f"{path} is a pickled Python object{what}, not a state dict; it is refused because "
            "loading it would execute pickled code. Save model.state_dict() instead."
        )
    return CheckpointError(f"{path} is not a PyTorch checkpoint ({message.splitlines()[0]})")


def _reject_foreign_model(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Name the model when the file is a SAM ViT checkpoint instead of TinySAM."""
    pos = state_dict.get("image_encoder.pos_embed")
    if pos is not None or any(k.startswith("image_encoder.blocks.") for k in state_dict):
        dim = int(pos.shape[-1]) if pos is not None else 0
        name = _SAM_VIT.get(dim, "a SAM ViT image encoder")
        raise CheckpointError(
            f"{path} is {name}, not TinySAM: it has image_encoder.blocks.* / pos_embed keys, while "
            "TinySAM expects image_encoder.layers.* (TinyViT). Use a TinySAM or MobileSAM checkpoint."
        )


def apply_state_dict(model: Sam, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Strictly load ``state_dict``; on mismatch, raise with a short diff of the keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        k for k in set(expected) & set(state_dict) if expected[k].shape != state_dict[k].shape
    )
    if missing or unexpected or mismatched:
        lines = [f"{source} does not match the {model.config.name} model:"]
        for title, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                lines.append(f"  {len(keys)} {title} keys: " + _short_list(keys))
        for k in mismatched[:5]:
            lines.append(
                f"  shape of {k}: checkpoint {tuple(state_dict[k].shape)}, model {tuple(expected[k].shape)}"
            )
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)
    model.untrained = False


def _short_list(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def save_official_layout(model: Sam, path: Path) -> None:
    """Save ``model`` as the official releases do (a plain state dict), written atomically."""
    with atomic_file(Path(path)) as partial:
        torch.save(model.state_dict(), partial)
