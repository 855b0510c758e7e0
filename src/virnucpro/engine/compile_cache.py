"""Compiled kernels kept beside the models, so a rerun loads them instead of compiling again.

TorchInductor (and the Triton kernels under it) write to `<model dir>/compiled/<key>/`, where the key
names the torch, Triton and CUDA versions, the GPU and its compute capability, and the shapes the
engine compiles for (batch budgets, precision, linear layers); inside, torch's own cache keys (the
graph, its inputs, the compiler's configuration) choose the entry. Torch writes each entry to a
temporary name and renames it into place, so concurrent jobs share the folder safely. After a run
`seal` records the sha256 of every file in a manifest; before the next run uses the folder, every
listed file is checked against it and a damaged one is removed, so torch compiles that kernel again
instead of loading it. A damaged manifest retires the whole folder (renamed aside, compiled afresh).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("virnucpro")

MANIFEST = "virnucpro-manifest.json"
_SET_HERE: dict[str, str] = {}  # environment variables this process pointed at a folder of ours


def folder_key(device: str, shapes: dict) -> str:
    """A readable, collision-free folder name for this software, GPU and set of compiled shapes."""
    import torch

    from importlib import metadata

    try:
        triton_version = metadata.version("triton")  # without importing it (seconds)
    except metadata.PackageNotFoundError:  # CPU builds compile C++ kernels, no Triton
        triton_version = ""
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        gpu, cc = props.name, f"sm{props.major}{props.minor}"
    else:
        import platform

        gpu, cc = "cpu", platform.machine()
    facts = {"torch": torch.__version__, "triton": triton_version, "cuda": torch.version.cuda or "", "gpu": gpu,
             "cc": cc, "shapes": shapes}
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", f"torch{torch.__version__}-{gpu}-{cc}") + f"-{digest}"


@dataclass
class CompileCache:
    """The folder in use and the sha256 of the files in it that were checked intact before the run."""

    folder: Path
    intact: dict[str, str]

    def seal(self) -> None:
        """After a run: record the sha256 of every file now in the folder (new files hashed, checked ones known)."""
        seal(self.folder, self.intact)


def use_compile_cache(root: Path, device: str, shapes: dict) -> CompileCache | None:
    """Point TorchInductor and Triton at `root/<key>` (verified first) for the compiles of this process.

    Called where the engine compiles, never at import. A TORCHINDUCTOR_CACHE_DIR the user set is kept.
    Returns the cache in use, or None (the user's own folder, or ours cannot be created).
    """
    own = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if own is not None and _SET_HERE.get("TORCHINDUCTOR_CACHE_DIR") != own:
        return None
    folder = Path(root) / folder_key(device, shapes)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        intact = verify(folder)
        folder.mkdir(parents=True, exist_ok=True)  # again, if a damaged folder was retired
    except OSError as exc:
        log.debug("compile cache %s not usable (%s): torch's default is used", folder, exc)
        return None
    _point("TORCHINDUCTOR_CACHE_DIR", str(folder))
    if os.environ.get("TRITON_CACHE_DIR") in (None, _SET_HERE.get("TRITON_CACHE_DIR")):
        _point("TRITON_CACHE_DIR", str(folder / "triton"))
    return CompileCache(folder, intact)


def _point(name: str, value: str) -> None:
    os.environ[name] = value
    _SET_HERE[name] = value


def _files(folder: Path) -> list[Path]:
    """The cache's files: not the manifest, temporaries (dot names, *.tmp*) or lock files."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "locks"]
        for name in filenames:
            if name == MANIFEST or name.startswith(".") or ".tmp" in name or name.endswith(".lock"):
                continue
            out.append(Path(dirpath) / name)
    return sorted(out)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _checksum(files: dict) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def verify(folder: Path) -> dict[str, str]:
    """Check every file the manifest lists; remove the damaged ones. Returns the intact ones (path -> sha256).

    A manifest that is itself damaged (unreadable, or its checksum does not match) retires the folder.
    """
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        if manifest["check"] != _checksum(files):
            raise ValueError("checksum mismatch")
    except (OSError, ValueError, KeyError, TypeError):
        retired = folder.with_name(f"{folder.name}.damaged-{os.getpid()}")
        log.warning("compile cache %s has a damaged manifest: set aside as %s, kernels are compiled again", folder,
                    retired.name)
        os.replace(folder, retired)
        return {}
    intact, removed = {}, 0
    for rel, digest in files.items():
        p = folder / rel
        try:
            if _sha256(p) == digest:
                intact[rel] = digest
            else:
                p.unlink()
                removed += 1
        except OSError:  # gone: compiled again if needed
            continue
    if removed:
        log.warning("compile cache %s: %d damaged file(s) removed, their kernels are compiled again", folder, removed)
    return intact


def seal(folder: Path, intact: dict[str, str] | None = None) -> None:
    """Record the sha256 of every file now in the cache (after a run's compiles), written atomically; files in
    `intact` (checked before the run; torch never rewrites an entry in place) are not read again."""
    known = intact or {}
    files = {}
    for p in _files(folder):
        rel = str(p.relative_to(folder))
        try:
            files[rel] = known[rel] if rel in known else _sha256(p)
        except OSError:  # removed meanwhile (a concurrent job's cleanup)
            continue
    if files == known and (folder / MANIFEST).exists():
        return  # nothing new: the manifest already says this
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{MANIFEST}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump({"files": files, "check": _checksum(files)}, fh, indent=0)
        os.replace(tmp, folder / MANIFEST)
    except OSError as exc:
        log.debug("compile cache %s not sealed: %s", folder, exc)
