"""A weight file's tensor names, shapes and dtypes without reading its data (checks before a run starts)."""

from __future__ import annotations

from pathlib import Path

import torch

from virnucpro.errors import ModelError
from virnucpro.models.weights import unreadable_weights

_SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                       "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                       "U8": torch.uint8, "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn,
                       "F8_E5M2": torch.float8_e5m2}


def read_tensor_meta(path: Path) -> dict[str, torch.Tensor]:
    """Meta tensors (shape and dtype, no data) of a safetensors file or a torch-saved state dict.

    Raises:
        ModelError: the file cannot be read or is not a state dict of tensors.
    """
    try:
        state = _safetensors_meta(path) if path.suffix == ".safetensors" else _torch_meta(path)
    except ModelError:
        raise
    except Exception as exc:  # safetensors/torch raise many types for corrupt files
        raise unreadable_weights(path, exc) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{str(path)!r} is not a state dict of tensors")
    return state


def _safetensors_meta(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    out = {}
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            part = f.get_slice(key)
            dtype = _SAFETENSORS_DTYPES.get(part.get_dtype(), torch.uint8)
            out[key] = torch.empty(part.get_shape(), dtype=dtype, device="meta")
    return out


def _torch_meta(path: Path) -> dict:
    import zipfile

    if zipfile.is_zipfile(path):  # memory-mapped: shapes and dtypes are read, the data is not
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    else:  # the legacy format cannot be mapped: read it whole (such files are small)
        obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        return {k: v.to("meta") if isinstance(v, torch.Tensor) else v for k, v in obj.items()}
    return obj
