"""The workflow's outdir: never a place of the system or of the user's other files; what finished there is
compared with the samples' inputs by content (a `touch` changes nothing)."""

from __future__ import annotations

import os
from pathlib import Path

from virnucpro.errors import InputError

WORK = ".virnucpro"  # the workflow's work directory inside outdir (shards, logs, markers)
OWN_FILES = ("summary.tsv", "summary.html")


def check_outdir(outdir: Path, base: Path, samples: list[str]) -> None:
    """outdir must be a directory of its own: not /, not $HOME, not the workflow's directory or one above it, and
    either new, empty, or already this workflow's (its work directory, summary or a sample's run in it).

    Raises:
        InputError: one line naming outdir, why it is refused, and the fix.
    """
    where = outdir.resolve()
    home = Path(os.path.expanduser("~")).resolve()
    why = ("the file system's root" if where == Path(where.anchor) else "your home directory" if where == home
           else "the workflow's own directory (where its Snakefile and config.yaml lie) or one above it"
           if where == base.resolve() or where in base.resolve().parents else None)
    if why is None and where.exists() and not where.is_dir():
        why = "a file, not a directory"
    if why is None and where.is_dir() and not _holds_this_workflow(where, samples):
        why = "a directory that holds other files and no results of this workflow"
    if why is not None:
        raise InputError(f"config.yaml: outdir {str(outdir)[:80]!r} is {why}: the workflow writes a directory per "
                         "sample there; set outdir to a new directory of its own (e.g. 'results')")


def _holds_this_workflow(where: Path, samples: list[str]) -> bool:
    try:
        entries = {p.name for p in where.iterdir()}
    except OSError:  # unreadable: the workflow's own jobs report it with the path
        return True
    return (not entries or WORK in entries or any(n in entries for n in OWN_FILES)
            or any((where / s / "run_info.json").is_file() for s in samples if s in entries))


def changed_input(paths: list[Path], recorded: list, finished: float) -> str | None:
    """The first input whose size or content differs from the finished run's record, else None.

    A file modified after the run (mtime) is hashed and compared with the recorded sha256: a `touch`, a copy
    with new dates or a restore from backup is the same input.
    """
    for path, rec in zip(paths, recorded):
        if not isinstance(rec, dict) or path.stat().st_size != rec.get("bytes"):
            return str(path)
        if path.stat().st_mtime > finished and readable_sha256(path) != rec.get("sha256"):
            return str(path)
    return None


def readable_sha256(path: Path) -> str:
    """sha256 of an input at validation time; an unreadable one is one line naming it (not a traceback).

    Raises:
        InputError: the file cannot be read (permissions, I/O error).
    """
    from virnucpro.errors import describe_os_error
    from virnucpro.io.hashing import sha256_file

    try:
        return sha256_file(path)
    except OSError as exc:
        raise describe_os_error(exc) from None
