"""A compressed input whose format has an end marker must end with it (checked before reading).

BGZF (BAM, bgzipped FASTA/FASTQ) ends with a fixed 28-byte empty block; the SAM spec requires it and
samtools warns without it. A BGZF file cut at a block boundary is still valid gzip, so the decompressor
alone reads it to exit 0 with part of the reads: only the missing EOF block tells. xz streams end with the
footer magic 'YZ' (then zero padding), bz2 streams with a 48-bit end-of-stream magic and a CRC: Python's
readers silently ignore bytes after the last whole stream, so trailing garbage (or a second stream cut
short) is only seen here. gzip and zstd cut anywhere, or with trailing bytes, are refused by their
decompressors (see seqio._format_error).
"""

from __future__ import annotations

import io
import os

from virnucpro.errors import InputError

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def is_bgzf(head: bytes) -> bool:
    """The first bytes of a file start a BGZF block (gzip with FEXTRA and the 'BC' subfield)."""
    return len(head) >= 16 and head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


_XZ_MAGIC, _BZ2_MAGIC, _BZ2_END = b"\xfd7zXZ\x00", b"BZh", 0x177245385090


def _xz_ends_well(tail: bytes) -> bool:
    return tail.rstrip(b"\x00").endswith(b"YZ")


def _bz2_ends_well(tail: bytes) -> bool:
    """The end-of-stream magic (48 bits), then the stream CRC (32 bits), then 0-7 padding bits."""
    value = int.from_bytes(tail[-11:], "big")
    return any((value >> (pad + 32)) & ((1 << 48) - 1) == _BZ2_END for pad in range(8))


_TESTS = {".gz": "gzip -t", ".bgz": "bgzip -t", ".bz2": "bzip2 -t", ".xz": "xz -t", ".zst": "zstd -t", ".zstd": "zstd -t"}


def checker_for(path: str) -> str:
    """The command that checks a compressed file like `path` (by its suffix), for error messages."""
    suffix = os.path.splitext(str(path).lower())[1]
    return _TESTS.get(suffix, "gzip -t, bzip2 -t, xz -t or zstd -t")


def check_end_marker(path: str, shown: str) -> None:
    """Raises InputError if `path` (a regular file) is BGZF, xz or bz2 and does not end with its end marker."""
    if path == "-" or not os.path.isfile(path):
        return  # a pipe is checked as it is read (TailKeeper); a spooled pipe is a regular file
    with open(path, "rb") as fh:
        head = fh.read(16)
        fh.seek(max(0, os.path.getsize(path) - 64))
        tail = fh.read()
    check_ends(head, tail, shown)


def check_ends(head: bytes, tail: bytes, shown: str) -> None:
    """Raises InputError if the compressed bytes (first 16 `head`, last 64 `tail`) lack their end marker."""
    if head.startswith(_XZ_MAGIC) and not _xz_ends_well(tail):
        raise _damaged(shown, "xz", "`xz -t`")
    if head.startswith(_BZ2_MAGIC) and not _bz2_ends_well(tail):
        raise _damaged(shown, "bz2", "`bzip2 -t`")
    if is_bgzf(head) and not tail.endswith(BGZF_EOF):
        raise InputError(f"{shown} is BGZF-compressed but does not end with the BGZF end-of-file block: the file is "
                         "truncated (cut at a block boundary); re-download or re-export it (`samtools quickcheck` "
                         "or `bgzip -t` confirms)")


class TailKeeper(io.RawIOBase):
    """A raw byte stream (stdin) that remembers its first 16 and last 64 bytes, for `check_ends` at its end."""

    def __init__(self, raw) -> None:
        super().__init__()
        self.raw, self.head, self.tail = raw, b"", b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        if n:
            got = memoryview(buffer)[:n]
            if len(self.head) < 16:
                self.head += got[:16 - len(self.head)].tobytes()
            self.tail = (self.tail + got[-64:].tobytes())[-64:]
        return n


def _damaged(shown: str, kind: str, test: str) -> InputError:
    return InputError(f"{shown} does not end with the {kind} end-of-stream marker: the file is truncated or has bytes "
                      f"after its end; re-download or re-compress it (check with {test})")
