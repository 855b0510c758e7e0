"""Read legacy torch pickles (whole pickled modules, fair-esm checkpoints) WITHOUT executing code.

A restricted unpickler over torch's zip format: tensors are rebuilt by our own code from the raw
storage bytes; allow-listed classes become inert `Record` objects that only store their state;
any other global (os.system, builtins.eval, ...) is refused before anything runs.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from virnucpro.errors import ModelError

STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class Record:
    """Inert stand-in for an allow-listed class: records constructor args and pickled state, runs nothing."""

    qualname = "?"
    args: tuple = ()
    kwargs: dict = {}
    state: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"Record({self.qualname})"


def _record_class(qualname: str) -> type:
    return type("Record", (Record,), {"qualname": qualname})


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor(storage: torch.Tensor, offset: int, size, stride, *_ignored) -> torch.Tensor:
    size, stride = tuple(size), tuple(stride)
    if any(n < 0 for n in size) or any(s < 0 for s in stride) or offset < 0 or len(size) != len(stride):
        raise ValueError(f"tensor of size {size} stride {stride} offset {offset} is malformed")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if last >= storage.numel():
        raise ValueError(f"tensor of size {size} needs {last + 1} elements but its storage holds {storage.numel()}")
    return storage.as_strided(size, stride, offset)


def _rebuild_parameter(data: torch.Tensor, *_ignored) -> torch.Tensor:
    return data


def _ordered_dict(*args) -> collections.OrderedDict:
    return collections.OrderedDict(*args)


def _plain_dict(*_factory) -> dict:
    """defaultdict(factory) as a plain dict: the factory (a pickled global) is never called."""
    return {}


SAFE_FUNCTIONS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): _ordered_dict,
    ("collections", "defaultdict"): _plain_dict,  # appears in omegaconf configs of fair-esm checkpoints
}
# plain container and scalar types: calling them only builds data from already-unpickled values
SAFE_FUNCTIONS.update({(mod, t.__name__): t for t in (set, frozenset, list, dict, tuple, int, float, str, bool)
                       for mod in ("builtins", "__builtin__")})  # protocol-2 pickles spell it __builtin__


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose globals come only from SAFE_FUNCTIONS, torch storage names, and `records`."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, records: set[str], lazy: bool = False) -> None:
        super().__init__(file)
        self._zip, self._prefix, self._records, self._lazy = archive, prefix, records, lazy
        self._storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_FUNCTIONS:
            return SAFE_FUNCTIONS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name == "device":
            return str
        full = f"{module}.{name}"
        if full in self._records or any(full.startswith(p) for p in self._records if p.endswith(".")):
            return _record_class(full)
        raise pickle.UnpicklingError(f"refusing global {full!r}")

    def persistent_load(self, pid: Any) -> torch.Tensor:
        kind, storage_type, key, _location, numel = pid
        assert kind == "storage", pid
        if key not in self._storages:
            dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else torch.uint8
            if self._lazy:  # shapes and dtypes only: a meta storage of the recorded size
                self._storages[key] = torch.empty(int(numel), dtype=dtype, device="meta")
                return self._storages[key]
            raw = bytearray(self._zip.read(f"{self._prefix}/data/{key}"))
            self._storages[key] = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        return self._storages[key]


def safe_load(path: Path, records: set[str], lazy: bool = False) -> Any:
    """Unpickle a torch zip-format file, allowing only tensors, OrderedDicts and `records` (as Records).

    Args:
        path: file written by `torch.save` (zip format, torch >= 1.6).
        records: fully qualified class names (or prefixes ending in '.') to accept as inert Records.
        lazy: tensors on the meta device (shapes and dtypes, no data read), to check a file before a run.
    Raises:
        ModelError: not a torch zip file, or it references anything outside the allow-list.
    """
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{str(path)!r} is not a torch zip-format checkpoint (legacy or corrupt): "
                         "re-download it or convert it with a trusted torch installation")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelError(f"{str(path)!r} is damaged ({str(exc)[:120]}): re-download the file") from None
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pkl) != 1:
            raise ModelError(f"{str(path)!r} holds no single data.pkl: not a torch checkpoint")
        prefix = pkl[0][: -len("/data.pkl")]
        try:
            fh = io.BytesIO(archive.read(pkl[0]))  # read whole so that its CRC is checked too
            try:
                return RestrictedUnpickler(fh, archive, prefix, records, lazy).load()
            except (pickle.UnpicklingError, AttributeError, TypeError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelError(f"refusing to load {str(path)!r}: {exc}; it is not a plain VirNucPro/ESM "
                                 "checkpoint (nothing in it was executed)") from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ModelError(f"{str(path)!r} is damaged ({str(exc)[:120]}): re-download the file") from None
