"""Strict weight loading through explicit name maps (`{}` = layer index; fused q|k|v built here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from virnucpro.errors import ModelError
from virnucpro.io.verified import NOTHING_REMEMBERED, VerifiedFiles, file_key


@dataclass(frozen=True)
class NameMap:
    """How checkpoint keys become module keys.

    rules: source pattern -> (target pattern, part): `part` is the slot of a fused target (q=0, k=1,
        v=2), or None for a plain copy. Patterns use `{}` for a layer index.
    strip_prefixes: optional leading prefixes removed first (e.g. 'bert.', 'esm.').
    ignore: regexes of source keys that are dropped (heads, poolers, position ids).
    """

    rules: Mapping[str, tuple[str, int | None]]
    strip_prefixes: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def compiled(self) -> list[tuple[re.Pattern, str, int | None]]:
        out = []
        for src, (dst, part) in self.rules.items():
            out.append((re.compile("^" + re.escape(src).replace(r"\{\}", r"(\d+)") + "$"), dst, part))
        return out


def remap(source: Mapping[str, torch.Tensor], names: NameMap, what: str,
          device: str = "cpu") -> tuple[dict[str, torch.Tensor], list[str]]:
    """Apply `names` to a checkpoint; returns (module state dict, unexpected source keys). Fused tensors are
    joined on `device` (their parts copied there as they are: no host copy of gigabytes of q|k|v first)."""
    rules = names.compiled()
    ignore = [re.compile(p) for p in names.ignore]
    parts: dict[str, dict[int, torch.Tensor]] = {}
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for key, tensor in source.items():
        k = _strip(key, names.strip_prefixes)
        if any(p.search(k) for p in ignore):
            continue
        for pat, dst, part in rules:
            m = pat.match(k)
            if m:
                target = dst.replace("{}", m.group(1)) if m.groups() else dst
                if part is None:
                    out[target] = tensor
                else:
                    parts.setdefault(target, {})[part] = tensor
                break
        else:
            unexpected.append(key)
    for target, slots in parts.items():
        if sorted(slots) != list(range(len(slots))) or len(slots) != 3:
            raise ModelError(f"{what}: incomplete fused tensor {target!r} (have parts {sorted(slots)} of q,k,v)")
        out[target] = _stack_rows([slots[i] if slots[i].is_meta else to_device(slots[i], device) for i in range(3)],
                                  f"{what}: fused tensor {target!r}")
    return out, unexpected


def _stack_rows(parts: list[torch.Tensor], what: str) -> torch.Tensor:
    """q|k|v concatenated by rows; shape-only (meta) parts give a meta result without running torch.cat on
    meta tensors (which would import the compiler stack: seconds for a check before a run)."""
    if len({tuple(p.shape[1:]) for p in parts}) != 1:
        raise ModelError(f"{what}: its q, k, v parts have different shapes {[tuple(p.shape) for p in parts]}: check "
                         "that the file is the right model and complete")
    if parts[0].is_meta:
        return torch.empty((sum(p.shape[0] for p in parts), *parts[0].shape[1:]), dtype=parts[0].dtype, device="meta")
    return torch.cat(parts, dim=0)


def _strip(key: str, prefixes: tuple[str, ...]) -> str:
    for p in prefixes:
        if key.startswith(p):
            return key[len(p):]
    return key


@dataclass(frozen=True)
class Placement:
    """Where loaded weights go: each tensor is moved to `device` in the file's precision, checked there, then
    cast to `dtype` (None: fp32). Rotary `inv_freq` tables stay fp32 (they are precision-critical)."""

    device: str = "cpu"
    dtype: torch.dtype | None = None

    def cast(self, key: str, t: torch.Tensor) -> torch.Tensor:
        if not t.is_floating_point():
            return t
        return t.float() if self.dtype is None or key.endswith("inv_freq") else t.to(self.dtype)


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], unexpected: list[str], what: str,
                place: Placement = Placement(), check: bool = True) -> nn.Module:
    """Load `state` into `module` (whose own values are never read) after checking keys and shapes.

    Each tensor goes to `place.device` in the file's precision, is checked there (`check`: finite; a
    BatchNorm variance >= 0) and cast to `place.dtype`: one pass over the weights, one host sync for all
    the checks, and the device holds at most one tensor in the file's precision at a time.

    Raises:
        ModelError: listing missing keys, unexpected keys and shape mismatches; naming a non-finite tensor.
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(unexpected) | (set(state) - set(expected)))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"missing keys: {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_few(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {_few(wrong)}")
    if problems:
        raise ModelError(f"{what} does not match the expected architecture ({'; '.join(problems)}): "
                         "check that the file is the right model and complete")
    placed, flags = {}, []
    for k in expected:
        t = to_device(state[k], place.device)
        if check:
            flags.append(_sound(k, t))
        placed[k] = place.cast(k, t)
    if flags and not bool(torch.stack(flags).all()):  # the one host sync of the checks
        for k in expected:  # a damaged file: name the first bad tensor, one at a time
            check_finite({k: to_device(state[k], place.device)}, what)
    module.load_state_dict(placed, strict=True, assign=True)
    return module


def to_device(t: torch.Tensor, device: str) -> torch.Tensor:
    """`t` on `device` (a no-op on its own device); the timed 'to device' step of start-up."""
    return t.to(device)


def _sound(key: str, t: torch.Tensor) -> torch.Tensor:
    """0-d bool on t's device, without a host sync: finite, and a BatchNorm variance not negative."""
    if not t.is_floating_point() or not t.numel():
        return torch.ones((), dtype=torch.bool, device=t.device)
    ok = torch.isfinite(t).all()
    return ok & (t >= 0).all() if key.endswith("running_var") else ok


def check_finite(state: dict[str, torch.Tensor], what: str) -> None:
    """Loaded weights must be finite and BatchNorm running variances >= 0 (the slow path naming the culprit).

    Raises:
        ModelError: naming the first bad tensor.
    """
    for key, t in state.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            raise ModelError(f"{what}: tensor {key!r} holds NaN or infinite values (a damaged file): re-download or "
                             "retrain it")
        if key.endswith("running_var") and t.numel() and bool((t < 0).any()):
            raise ModelError(f"{what}: BatchNorm variance {key!r} is negative (a damaged file): re-download or "
                             "retrain it")


def check_zip_crc(path: Path) -> None:
    """Verify the CRC-32 of every member of a torch zip checkpoint (torch's own reader skips it).

    Raises:
        ModelError: a member's bytes differ from its recorded CRC, or the archive is cut short.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelError(f"weights {str(path)!r} are damaged ({str(exc)[:120]}): re-download the file") from None
    if bad is not None:
        raise ModelError(f"weights {str(path)!r} are damaged (member {bad!r} fails its CRC check): re-download "
                         "the file")


def _few(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def read_state_file(path: Path, records: VerifiedFiles = NOTHING_REMEMBERED) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file (memory-mapped) or a plain `torch.save`d state dict (weights_only); a zip's
    CRCs are checked once per version of the file (`records`)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        import zipfile

        if zipfile.is_zipfile(path) and not records.facts(path).get("zip_crc"):
            key = file_key(path)
            check_zip_crc(path)
            records.remember(path, key, zip_crc="ok")
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except ModelError:
        raise
    except Exception as exc:  # safetensors/torch raise many types for corrupt files
        raise unreadable_weights(path, exc) from None
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{str(path)!r} is not a state dict of tensors")
    return obj


def find_weight_file(directory: Path) -> Path:
    """The model weights inside an HF-style directory (safetensors preferred)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (directory / name).exists():
            return directory / name
    raise ModelError(f"no model.safetensors or pytorch_model.bin in {str(directory)!r}: "
                     "point to a complete model directory or run `virnucpro download`")


def unreadable_weights(path: Path, exc: Exception) -> Exception:
    """The one-line error for a weight file that does not load: a read permission problem named as such (the
    libraries report it as a missing file), else damage."""
    import errno
    import os

    from virnucpro.errors import describe_os_error

    if not os.access(path, os.R_OK) and os.path.exists(path):
        return describe_os_error(PermissionError(errno.EACCES, "Permission denied", str(path)))
    return ModelError(f"cannot read weights {str(path)!r} ({type(exc).__name__}: {str(exc)[:200]}): re-download the "
                      "file")
