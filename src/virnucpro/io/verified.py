"""What is already known about a weight file (its sha256, its zip CRCs, its finiteness), so a rerun reads it once.

One small record per file under the model cache (`<model dir>/verified/`), keyed by the file's device,
inode, size, mtime and ctime in nanoseconds. ctime is set by the kernel on every write or `touch`
and cannot be set back (`touch -r` restores mtime only), so a file changed in place or replaced gets
a new key and is verified again; mtime alone is never trusted. Each record carries a checksum of its
own content: a damaged or hand-edited record is ignored (the checks run again), never trusted.
Records are written to a unique temporary name and renamed into place, so concurrent jobs (on one
host or on several hosts of a cluster file system) never see a partly written record; two jobs
writing the same record at once both write true facts, and the last rename wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

FORMAT = 1  # bump when a check changes meaning: every file is then verified again
KEY_FIELDS = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")


def file_key(path: Path) -> list[int]:
    """(device, inode, size, mtime_ns, ctime_ns) of the file `path` names (links followed)."""
    st = os.stat(path)
    return [int(getattr(st, f)) for f in KEY_FIELDS]


def _checksum(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class VerifiedFiles:
    """The records under `root`; `VerifiedFiles(None)` remembers nothing (every check runs every time)."""

    root: Path | None

    def facts(self, path: Path) -> dict[str, str]:
        """What was verified about `path` as it is now: {} when unknown, changed since, or the record is damaged."""
        if self.root is None:
            return {}
        try:
            real, key = os.path.realpath(path), file_key(path)
            record = json.loads(self._record(real, key[0]).read_text())
            body = {k: record[k] for k in ("format", "path", "key", "facts")}
            if record["check"] != _checksum(body) or body["format"] != FORMAT:
                return {}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        if body["path"] != real or body["key"] != key or not isinstance(body["facts"], dict):
            return {}
        return {str(k): str(v) for k, v in body["facts"].items()}

    def remember(self, path: Path, key: list[int], **facts: str) -> None:
        """Record `facts` about `path`, checked while it had `key` (taken before reading it).

        Nothing is recorded when the file changed since `key` was taken (it was written to while being
        checked), or when the cache cannot be written (a read-only model directory only costs re-checking).
        """
        if self.root is None:
            return
        try:
            real = os.path.realpath(path)
            if file_key(path) != key:
                return
            known = self.facts(path)
            body = {"format": FORMAT, "path": real, "key": key, "facts": {**known, **facts}}
            self._write(self._record(real, key[0]), json.dumps({**body, "check": _checksum(body)}, indent=1) + "\n")
        except OSError:
            pass

    def _record(self, real: str, device: int) -> Path:
        """One record per (file system device, real path): hosts that number a shared mount differently keep
        their own records instead of overwriting each other's."""
        assert self.root is not None
        return self.root / (hashlib.sha256(f"{device}:{real}".encode()).hexdigest()[:32] + ".json")

    def _write(self, target: Path, text: str) -> None:
        """Unique temporary (O_EXCL: no two writers share it, no link is followed), fsync, rename into place."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


NOTHING_REMEMBERED = VerifiedFiles(None)


def records_in(model_dir: Path | None) -> VerifiedFiles:
    """The verification records of a model cache directory (`None`: remember nothing)."""
    return VerifiedFiles(Path(model_dir) / "verified") if model_dir is not None else NOTHING_REMEMBERED
