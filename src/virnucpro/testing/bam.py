"""Unaligned BAM files for tests, written in the real on-disk format (BGZF blocks, BAM records, EOF block)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_CODES = {c: i for i, c in enumerate("=ACMGRSVTWYHKDBN")}
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
SINGLE, FIRST_MATE, SECOND_MATE = 4, 77, 141  # unmapped; paired + both unmapped + first/second in pair


def write_ubam(path: Path, reads: list[tuple], header: str = "@HD\tVN:1.6\tSO:unsorted\n") -> None:
    """Write `reads` = [(name, sequence, flag)] as an unaligned BAM (qualities absent: 0xff), or
    [(name, sequence, flag, qualities)] with Phred+33 quality strings."""
    body = bytearray(b"BAM\x01")
    text = header.encode()
    body += struct.pack("<I", len(text)) + text + struct.pack("<I", 0)  # no reference sequences
    for name, seq, flag, *qual in reads:
        body += _record(name, seq, flag, qual[0] if qual else None)
    with open(path, "wb") as fh:
        for at in range(0, len(body), 60000):  # BGZF blocks hold at most 64 KiB of input
            fh.write(_bgzf_block(bytes(body[at:at + 60000])))
        fh.write(BGZF_EOF)


def _record(name: str, seq: str, flag: int, qual_text: str | None = None) -> bytes:
    raw_name = name.encode() + b"\x00"
    codes = [_CODES[c] for c in seq.upper()] + [0]  # pad to whole bytes
    packed = bytes((codes[i] << 4) | codes[i + 1] for i in range(0, len(seq), 2))
    qual = b"\xff" * len(seq) if qual_text is None else bytes(ord(c) - 33 for c in qual_text)
    fixed = struct.pack("<iiBBHHHIiii", -1, -1, len(raw_name), 255, 4680, 0, flag, len(seq), -1, -1, 0)
    rest = fixed + raw_name + packed + qual
    return struct.pack("<I", len(rest)) + rest


def _bgzf_block(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = comp.compress(data) + comp.flush()
    extra = b"BC" + struct.pack("<HH", 2, len(deflated) + 25)  # BSIZE = total block size - 1
    head = b"\x1f\x8b\x08\x04" + b"\x00" * 4 + b"\x00\xff" + struct.pack("<H", len(extra)) + extra
    return head + deflated + struct.pack("<II", zlib.crc32(data), len(data))
