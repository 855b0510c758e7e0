"""Atomic file output: write to a temporary sibling, rename into place only on success.

The temporary is created fresh (O_EXCL, O_NOFOLLOW: never through a planted link) and the rename replaces
whatever entry holds the final name, a link included, never the file a link points at.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Iterator

from virnucpro.nofollow import create_new


def tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_files(paths: list[Path], mode: str = "w") -> Iterator[list[IO]]:
    """Open temporary files for `paths`; rename all of them into place when the block succeeds.

    On any exception the temporaries are removed, so no partial file appears under a final name.
    """
    tmps = [tmp_path(p) for p in paths]
    handles: list[IO] = []
    try:
        for t in tmps:
            handles.append(create_new(t, mode, buffering=1 << 20))
        yield handles
        for h in handles:
            h.flush()
            os.fsync(h.fileno())
            h.close()
        for t, p in zip(tmps, paths):
            _replace(t, p)
    except OSError as exc:
        if exc.filename is None:  # a failed write() names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(paths[0] if len(paths) == 1 else paths[0].parent)) from None
        raise
    finally:
        for h in handles:
            with contextlib.suppress(OSError):  # a failed flush on close (disk full) must not skip the cleanup
                h.close()
        for t in tmps:
            with contextlib.suppress(FileNotFoundError):
                t.unlink()


def _replace(tmp: Path, path: Path) -> None:
    """Rename `tmp` onto `path`; a failure (`path` is a directory, ...) names `path`, not the hidden temporary."""
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a whole file atomically; text as UTF-8, with undecodable bytes of paths (surrogates) escaped."""
    if isinstance(data, str):
        data = data.encode("utf-8", "backslashreplace")
    with atomic_files([path], "wb") as (fh,):
        fh.write(data)


def save_safetensors(path: Path, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Write torch tensors as a safetensors file atomically; a full disk or other I/O failure is an OSError
    naming `path` (safetensors reports it as its own error type)."""
    import errno
    import re

    from safetensors.torch import save_file

    tmp = tmp_path(path)
    try:
        create_new(tmp).close()  # a fresh regular file of ours (never a planted link) that save_file then fills
        save_file(tensors, str(tmp), metadata=metadata)
        _sort_metadata(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates 0600: respect the umask like every other output
        tmp.replace(path)
    except Exception as exc:
        if isinstance(exc, OSError):
            raise
        code = re.search(r"os error (\d+)", str(exc))
        num = int(code.group(1)) if code else errno.EIO
        raise OSError(num, os.strerror(num), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _sort_metadata(path: Path) -> None:
    """Sort a safetensors header's `__metadata__` keys, in place: safetensors writes them in hash order, which
    changes from process to process, so identical runs would write different bytes. Only the order changes, so
    the header keeps its length (and the data its offsets)."""
    import json
    import struct

    with open(path, "r+b") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        if not header.get("__metadata__"):
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        canonical = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        assert len(canonical) <= n, (len(canonical), n)  # same keys and values, same escapes: never longer
        fh.seek(8)
        fh.write(canonical.ljust(n))  # safetensors pads its header with spaces too
