"""The output directory while a run holds it: checked path, lock, re-readable input, cleanup.

Until the run is claimed (run_info.json written), a failure leaves the directory as it was: the
spooled input is removed, and a directory this run created is removed again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from virnucpro.dirlock import DirLock, lock_output_dir
from virnucpro.errors import InputError
from virnucpro.nofollow import check_not_link
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.io.spool import InputSource, open_input


def check_output_dir(root: Path) -> None:
    """-o must be a directory, or a path whose first existing ancestor is a directory.

    Raises:
        InputError: naming the file in the way.
    """
    if root.is_symlink() and not root.exists():
        raise InputError(f"-o {str(root)!r} is a symbolic link to a path that does not exist: create its target or "
                         "choose another -o/--output-dir")
    if root.exists() and not root.is_dir():
        raise InputError(f"-o {str(root)!r} is an existing file, not a directory: choose a directory path")
    for parent in root.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"-o {str(root)!r} lies under {str(parent)!r}, which is a file: choose a directory "
                                 "path")
            return


@dataclass
class HeldDirectory:
    """A locked output directory; `claimed` once run_info.json makes it this run's directory."""

    out: OutputPaths
    lock: DirLock
    claimed: bool = False
    sources: list[InputSource] = field(default_factory=list)
    drop_lock_file: bool = False  # a directory the user edits (the workflow's): leave no lock file behind

    def open_input(self, given: str, index: int = 0) -> InputSource:
        """Input `index` as a re-readable file (streams are spooled into the directory)."""
        source = open_input(given, self.out.root, index)
        self.sources.append(source)
        return source

    def close(self, failed: bool) -> None:
        for s in self.sources:
            if s.spooled:
                Path(s.path).unlink(missing_ok=True)
        if self.drop_lock_file:
            self.lock.path.unlink(missing_ok=True)  # while still held: a waiting run re-checks the inode
        self.lock.release(remove_dir=failed and not self.claimed and self.lock.created_dir)


def _remove_stale_spools(root: Path) -> None:
    """Spooled inputs of killed runs: a spool is never reused (a stream cannot be re-read to check it)."""
    from virnucpro.io.seqio import SPOOLED_NAME

    for p in root.glob(SPOOLED_NAME + "*"):
        if p.is_file():
            p.unlink(missing_ok=True)


@contextlib.contextmanager
def held_directory(out: OutputPaths, owner: str | None = None) -> Iterator[HeldDirectory]:
    """Lock `out` for this process; on the way out remove the spool, and the directory if it stayed unclaimed.

    `owner` (the command writing the directory) refuses a directory that holds another command's run.
    """
    from virnucpro.pipeline.claim import remove_stale_temporaries
    from virnucpro.pipeline.ownership import check_owner

    held = HeldDirectory(out, lock_output_dir(out.root))
    failed = True
    try:
        check_not_link(out.log)  # refused before anything is written, not when the log opens
        if owner is not None:
            check_owner(out.root, owner)
        _remove_stale_spools(out.root)
        remove_stale_temporaries(out)  # even a complete run that is left alone loses a killed rerun's leftovers
        yield held
        failed = False
    finally:
        held.close(failed)
