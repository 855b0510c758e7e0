"""Unaligned BAM (uBAM, as sequencing centres deliver reads): (ids, seqs) groups from the decompressed stream.

dnaio reads only single-end uBAM (every flag = 4); Illumina uBAMs hold mate pairs (flags 77/141, same
name), so the records are parsed here: a struct unpack per record, sequences decoded per block with
numpy. Unmapped records of any kind are read; a mapped record means an aligned BAM, which is refused
(its reverse-strand reads are stored reverse-complemented, secondary alignments repeat reads).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

import numpy as np

MAGIC = b"BAM\x01"
_FIXED = struct.Struct("<IiiBBHHHIiii")  # block_size ... tlen: the 36 bytes before the read name
_UNMAPPED = 0x4
_NOT_WORD = re.compile(rb"[^\x21-\x7e]")  # SAM QNAME: printable ASCII, no space
_LETTERS = np.frombuffer(b"=ACMGRSVTWYHKDBN", dtype=np.uint8)  # 4-bit BAM base codes -> IUPAC letters


class BamError(ValueError):
    """The BAM stream is malformed, truncated or aligned."""


def bam_groups(stream, size: int, block: int = 4 << 20) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, seqs) groups of the records of a decompressed BAM stream, about one group per `block` bytes.

    Raises:
        BamError: bad magic, truncated header or record, a mapped record, a non-ASCII read name.
    """
    _skip_header(stream)
    pending, n = b"", 0
    while data := stream.read(block):
        buf = pending + data if pending else data
        ids, seqs, used = _parse_records(buf, n)
        n += len(ids)
        pending = buf[used:]
        for at in range(0, len(ids), size):
            yield ids[at:at + size], seqs[at:at + size]
    if pending:
        raise BamError(f"truncated BAM: record {n + 1} is incomplete at the end of the file")


def _read_exact(stream, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) < n:
        raise BamError(f"truncated BAM header ({what})")
    return data


def _skip_header(stream) -> None:
    if _read_exact(stream, 4, "magic") != MAGIC:
        raise BamError("not a BAM file (no BAM magic after decompression)")
    (l_text,) = struct.unpack("<I", _read_exact(stream, 4, "text length"))
    _read_exact(stream, l_text, "text")
    (n_ref,) = struct.unpack("<I", _read_exact(stream, 4, "reference count"))
    for _ in range(n_ref):
        (l_name,) = struct.unpack("<I", _read_exact(stream, 4, "reference name length"))
        _read_exact(stream, l_name + 4, "reference")


def _parse_records(buf: bytes, before: int) -> tuple[list[str], list[str], int]:
    """The whole records in `buf`: IDs, sequences and the bytes they took (the rest is a partial record)."""
    names: list[bytes] = []
    packed: list[bytes] = []
    lengths: list[int] = []
    off, end = 0, len(buf)
    while off + 4 <= end:
        (block_size,) = struct.unpack_from("<I", buf, off)
        if off + 4 + block_size > end:
            break
        if block_size < _FIXED.size - 4:
            raise BamError(f"record {before + len(names) + 1} is {block_size} bytes, shorter than a BAM record's fixed "
                           "fields: the file is corrupt")
        _, _, _, l_name, _, _, n_cigar, flag, l_seq, *_ = _FIXED.unpack_from(buf, off)
        _check_fields(buf, off, block_size, l_name, n_cigar, l_seq, before + len(names) + 1)
        if not flag & _UNMAPPED:
            raise BamError(f"record {before + len(names) + 1} is mapped (flag {flag}): this is an aligned BAM; give "
                           "the unaligned BAM, or convert with `samtools fastq`")
        name_at = off + _FIXED.size
        seq_at = name_at + l_name + 4 * n_cigar
        names.append(buf[name_at:name_at + l_name - 1])
        packed.append(buf[seq_at:seq_at + (l_seq + 1) // 2])
        lengths.append(l_seq)
        off += 4 + block_size
    return _names(names, before), _decode(packed, lengths), off


def _check_fields(buf: bytes, off: int, block_size: int, l_name: int, n_cigar: int, l_seq: int, no: int) -> None:
    """The record's name, CIGAR, sequence and qualities must fit inside its block; the name ends in NUL."""
    need = _FIXED.size - 4 + l_name + 4 * n_cigar + (l_seq + 1) // 2 + l_seq
    if l_name < 1 or need > block_size or l_seq < 0:
        raise BamError(f"record {no} claims fields (name {l_name}, CIGAR {n_cigar}, sequence {l_seq} bytes) that do not "
                       f"fit its {block_size}-byte block: the file is corrupt")
    if buf[off + _FIXED.size + l_name - 1] != 0:
        raise BamError(f"record {no} has a read name that is not NUL-terminated: the file is corrupt")


def _names(raw: list[bytes], before: int) -> list[str]:
    try:
        b"".join(raw).decode("ascii")
    except UnicodeDecodeError:
        bad = next(i for i, r in enumerate(raw) if not r.isascii())
        raise BamError(f"record {before + bad + 1} has a read name with a byte outside ASCII") from None
    if _NOT_WORD.search(b"\x21".join(raw)) or b"" in raw:  # one pass; a space would split the ID later
        bad = next(i for i, r in enumerate(raw) if not r or _NOT_WORD.search(r))
        raise BamError(f"record {before + bad + 1} has the read name {raw[bad].decode('ascii')[:60]!r}, empty or with a "
                       "space or control byte (SAM allows one printable word): fix the read names")
    return [r.decode("ascii") for r in raw]


def _decode(packed: list[bytes], lengths: list[int]) -> list[str]:
    """4-bit packed sequences -> strings, one numpy pass for the whole block."""
    if not packed:
        return []
    codes = np.frombuffer(b"".join(packed), dtype=np.uint8)  # (bytes,) two bases per byte, high nibble first
    pairs = np.empty((codes.size, 2), dtype=np.uint8)
    pairs[:, 0], pairs[:, 1] = codes >> 4, codes & 15
    text = _LETTERS[pairs.reshape(-1)].tobytes().decode("ascii")
    starts = np.cumsum([0] + [2 * len(p) for p in packed[:-1]]).tolist()
    return [text[s:s + n] for s, n in zip(starts, lengths)]


def bam_fastq_groups(stream, block: int = 4 << 20) -> Iterator[tuple[list[str], list[str], list[str], list[int]]]:
    """(names, seqs, qualities, flags) per block of a decompressed BAM stream, for writing reads back out.

    Qualities are Phred+33 text as `samtools fastq` writes them (an absent quality string, 0xff, becomes
    'B' for every base, as samtools does); the sequences are stored as `bam_groups` reads them.

    Raises:
        BamError: as `bam_groups` (the run's scan has already refused such files).
    """
    _skip_header(stream)
    pending, n = b"", 0
    while data := stream.read(block):
        buf = pending + data if pending else data
        names, seqs, quals, flags, used = _parse_full(buf, n)
        n += len(names)
        pending = buf[used:]
        yield names, seqs, quals, flags
    if pending:
        raise BamError(f"truncated BAM: record {n + 1} is incomplete at the end of the file")


def _parse_full(buf: bytes, before: int) -> tuple[list[str], list[str], list[str], list[int], int]:
    """`_parse_records` plus each record's qualities (Phred+33) and flag."""
    names: list[bytes] = []
    packed: list[bytes] = []
    lengths: list[int] = []
    quals: list[str] = []
    flags: list[int] = []
    off, end = 0, len(buf)
    while off + 4 <= end:
        (block_size,) = struct.unpack_from("<I", buf, off)
        if off + 4 + block_size > end:
            break
        _, _, _, l_name, _, _, n_cigar, flag, l_seq, *_ = _FIXED.unpack_from(buf, off)
        _check_fields(buf, off, block_size, l_name, n_cigar, l_seq, before + len(names) + 1)
        name_at = off + _FIXED.size
        seq_at = name_at + l_name + 4 * n_cigar
        qual_at = seq_at + (l_seq + 1) // 2
        names.append(buf[name_at:name_at + l_name - 1])
        packed.append(buf[seq_at:qual_at])
        lengths.append(l_seq)
        quals.append(_phred33(buf[qual_at:qual_at + l_seq]))
        flags.append(flag)
        off += 4 + block_size
    return _names(names, before), _decode(packed, lengths), quals, flags, off


_PLUS_33 = bytes(min(q + 33, 126) for q in range(256))  # Phred score byte -> FASTQ character (capped at '~')
_ABSENT_QUALITY = 33  # what `samtools fastq` (1.16) writes for a read without qualities (0xff): 'B' each


def _phred33(raw: bytes) -> str:
    if raw[:1] == b"\xff":
        return chr(_ABSENT_QUALITY + 33) * len(raw)
    return raw.translate(_PLUS_33).decode("ascii")
