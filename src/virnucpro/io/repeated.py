"""Inputs given twice, and what a duplicate sequence ID most likely means (the fix its message names)."""

from __future__ import annotations

import os
from pathlib import Path

from virnucpro.errors import InputError


def refuse_repeated_inputs(paths: list[str], names: list[str]) -> None:
    """Raises InputError if one file is given twice (same path, or a link to it); stdin is never compared."""
    for k, path in enumerate(paths):
        for j in range(k):
            if "-" not in (path, paths[j]) and _same_file(path, paths[j]):
                raise InputError(f"input {names[k]} is given twice (also as input {j + 1}): give each file once")


def duplicate_error(dup: str, named: str, paths: list[str], names: list[str], paired: bool) -> InputError:
    """The error for a repeated sequence ID, with the fix that fits the inputs.

    Two inputs with the same content are one file given twice; after --paired the IDs are already
    renamed, so --paired is suggested only without it.
    """
    where = f"duplicate sequence ID {dup[:60]!r} in {named}"
    copy = _same_content(paths, names)
    if copy is not None:
        return InputError(f"{where}: {copy[1]} holds the same content as {copy[0]} (one file given twice?): give "
                          "each file once")
    fix = "sequence IDs must be unique (their first word): rename the duplicates"
    if not paired:
        mates_hint = "they are mate files R1 R2" if len(paths) == 2 else "the file interleaves mates of paired reads"
        fix += f", or, if {mates_hint}, pass --paired to name them ID/1 and ID/2"
    return InputError(f"{where}: {fix}")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # a missing file is refused later, with its own message
        return False


def same_bytes(a: str, b: str) -> bool:
    """Two regular files with equal bytes; sizes first, so distinct files (whose sizes differ) are never hashed."""
    from virnucpro.io.hashing import sha256_file

    return os.path.getsize(a) == os.path.getsize(b) and sha256_file(Path(a)) == sha256_file(Path(b))


COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")  # gzip/BGZF, bzip2, xz, zstd


def content_sha256(path: str, raw_sha256: str | None = None) -> str:
    """sha256 of the bytes a reader sees: the decompressed stream of a gz/bz2/xz/zst file, else the file's own bytes
    (`raw_sha256`, when already known, spares hashing a plain file again). A file and its compressed copy agree."""
    import hashlib

    import xopen

    from virnucpro.io.hashing import sha256_file

    with open(path, "rb") as fh:
        head = fh.read(6)
    if not head.startswith(COMPRESSED):
        return raw_sha256 or sha256_file(Path(path))
    h = hashlib.sha256()
    with xopen.xopen(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _same_content(paths: list[str], names: list[str]) -> tuple[str, str] | None:
    """(first, second) names of two inputs with equal bytes."""
    real = [(p, n) for p, n in zip(paths, names) if p != "-" and os.path.isfile(p)]
    for k, (path, name) in enumerate(real):
        for other, other_name in real[:k]:
            if same_bytes(path, other):
                return other_name, name
    return None
