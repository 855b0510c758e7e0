"""Inputs that can be read only once ('-', pipes, FIFOs, `<(zcat ...)`, /dev/stdin) are copied once.

`predict` reads its input several times (hash, scan, compute), so anything that is not a regular
file is spooled into the output directory, hashed while it is copied, and read from there. What such
a stream may cost is bounded: its first bytes must look like an input format (so `/dev/zero`,
`/dev/urandom` or `yes ACGT` are refused at once), and copying stops, in one line, before the output
directory's file system has less than `margin_bytes` free (an endless stream never fills the disk).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.io.hashing import sha256_file
from virnucpro.io.seqio import SPOOLED_NAME, check_input_path, stdin_binary
from virnucpro.nofollow import create_new

BLOCK = 1 << 20
MAX_MARGIN = 2 << 30  # left free under the output directory: 2 GiB, or a tenth of a smaller file system
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")  # gzip/BGZF (BAM), bzip2, xz, zstd
TEXT_STARTS = (b">", b"@")  # FASTA, FASTQ (the readers accept nothing before the first record)
BAM_MAGIC = b"BAM\x01"  # uncompressed BAM


@dataclass(frozen=True)
class InputSource:
    """A re-readable input: `path` to read, `given` as the user named it, its size and sha256."""

    path: str
    given: str
    size: int
    sha256: str
    spooled: bool

    def describe(self) -> dict:
        shown = self.given if self.spooled else str(Path(self.given).resolve())
        return {"path": shown, "bytes": self.size, "sha256": self.sha256}


def is_regular_file(path: str) -> bool:
    return path != "-" and stat.S_ISREG(os.stat(path).st_mode)


def open_input(given: str, out_dir: Path, index: int = 0) -> InputSource:
    """A re-readable source for `given`: the file itself, or a hashed copy in `out_dir` for streams
    (`.input.spool`, then `.input.spool.2`, ... for the run's `index`-th input).

    Raises:
        InputError: the path is empty, missing or a directory; stdin is closed; the stream does not start like
            an input format; copying it would leave less than the margin free.
    """
    check_input_path(given)
    if is_regular_file(given):
        return InputSource(given, given, os.path.getsize(given), sha256_file(Path(given)), spooled=False)
    target = out_dir / (SPOOLED_NAME + (f".{index + 1}" if index else ""))
    try:
        size, digest = _copy_hashing(given, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return InputSource(str(target), given, size, digest, spooled=True)


def _copy_hashing(given: str, target: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    src = stdin_binary() if given == "-" else open(given, "rb")  # noqa: SIM115 (closed below unless stdin)
    try:
        with create_new(target) as fh:  # never through a link planted at the spool's name
            margin = margin_bytes(target.parent)
            while block := _named(src.read, BLOCK, given):
                if size == 0:
                    check_start(block, given)
                check_room(target, size, len(block), margin, given)  # a statvfs per MiB: ~1 us
                h.update(block)
                _write(fh, block, target)
                size += len(block)
    except OSError as exc:  # the final flush of a full disk names no file either
        raise _with_path(exc, target) from None
    finally:
        if given != "-":
            src.close()
    return size, h.hexdigest()


def _named(call, arg, path):
    """`call(arg)`; an OSError without a file name (a full disk while writing, a read error of a pipe) gets `path`."""
    try:
        return call(arg)
    except OSError as exc:
        raise _with_path(exc, path) from None


def _with_path(exc: OSError, path) -> OSError:
    return exc if exc.filename else OSError(exc.errno, exc.strerror or str(exc), str(path))


def _write(fh, block: bytes, target: Path) -> None:
    """One block into the spool; a full disk's error names the spool's path."""
    _named(fh.write, block, target)


def check_start(head: bytes, given: str) -> None:
    """The first bytes of a stream must start FASTA, FASTQ, BAM or a compressed file, and text holds no NUL.

    Raises:
        InputError: naming the stream and what it starts with.
    """
    if head.startswith(COMPRESSED_MAGIC) or head.startswith(BAM_MAGIC):
        return
    if head.startswith(TEXT_STARTS) and b"\x00" not in head:
        return
    what = "NUL bytes" if head[:1] == b"\x00" else "binary data" if b"\x00" in head else f"{head[:12]!r}"[1:]
    raise InputError(f"{_name(given)} is not FASTA/FASTQ/BAM (it starts with {what}, not '>', '@' or a compressed "
                     "file's header): pipe a FASTA/FASTQ file (plain, gz, bz2, xz, zst) or an unaligned BAM")


def margin_bytes(directory: Path) -> int:
    """Bytes a spool leaves free on `directory`'s file system (for the run's outputs and everyone else)."""
    st = os.statvfs(directory)
    return min(MAX_MARGIN, st.f_blocks * st.f_frsize // 10)


def free_bytes(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def check_room(target: Path, copied: int, coming: int, margin: int, given: str) -> None:
    """Stop before the next `coming` bytes would leave less than `margin` free next to `target`.

    Raises:
        InputError: naming the stream, the directory and the fix.
    """
    if free_bytes(target.parent) - coming >= margin:
        return
    raise InputError(f"no space left for {_name(given)} in {str(target.parent)!r}: stopped after {_size(copied)}, "
                     f"keeping {_size(margin)} free (an endless stream?): give a file, free space or use another -o")


def _name(given: str) -> str:
    return "the piped input (stdin)" if given == "-" else f"the stream {given!r}"


def _size(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
