"""Atomic file output: write to a temporary sibling, rename into place only on success."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Iterator


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
            handles.append(open(t, mode, buffering=1 << 20))
        yield handles
        for h in handles:
            h.flush()
            os.fsync(h.fileno())
            h.close()
        for t, p in zip(tmps, paths):
            os.replace(t, p)
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


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a whole file atomically."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with atomic_files([path], mode) as (fh,):
        fh.write(data)
