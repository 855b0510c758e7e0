"""The run's input records once more, whole: header line, sequence as the run read it, qualities, BAM flag.

The scan and the compute passes keep only IDs and sequences; the sequence outputs (viral.fa, viral.fq,
regions.fa) need what the file said. This pass applies the run's reading rules (empty records dropped,
FASTA blanks dropped, U read as T, `--paired` mates named `ID/1` and `ID/2`) so each record carries the
run's ID; the caller checks those IDs against the run's tables, so a file changed under the run is caught.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from typing import NamedTuple

from virnucpro.io.record_groups import drop_inner_blanks, peekable, record_id
from virnucpro.io.rna import u_as_t

_REVERSE = 0x10  # SAM flag: the read is stored reverse-complemented


class SourceRecord(NamedTuple):
    """One input record as the sequence outputs write it."""

    run_id: str  # the ID in the run's tables (`--paired`: ID/1, ID/2)
    header: str  # the header line without '>' or '@' (ID and description); BAM: the read name
    seq: str  # as the run read and classified it
    qual: str  # Phred+33; "" for FASTA
    kind: str  # "fa" | "fq" (FASTQ and BAM)
    mate: int  # 0 (not --paired), 1 or 2
    reverse: bool = False  # BAM flag 16: `samtools fastq` writes it reverse-complemented


def source_records(paths: list[str], paired: bool = False, threads: int = 1,
                   digests: list[str] | None = None) -> Iterator[SourceRecord]:
    """Every non-empty record of the files in the run's order (one file after another, or mates interleaved).

    Args:
        digests: each file's sha256 as the run recorded it; a file read to its end with other bytes stops the
            pass (the file was replaced under the run: same IDs and lengths would pass the caller's check).
    Raises:
        IntegrityError: a file's bytes are no longer those the run hashed.
    """
    expect = digests or [None] * len(paths)
    if not paired:
        for path, digest in zip(paths, expect):
            yield from _kept(_raw(path, threads, 0, digest))
        return
    if len(paths) == 1:
        raw = _raw(paths[0], threads, 0, expect[0])
        pairs = zip(raw, raw)  # R1, R2, R1, ... of one interleaved file
    else:
        pairs = zip_longest(_raw(paths[0], threads, 1, expect[0]), _raw(paths[1], threads, 2, expect[1]))
    for a, b in pairs:
        if a is None or b is None:  # the scan refused such inputs: the file changed since
            return
        base = _mate_base(record_id(a.header), record_id(b.header))
        yield from _kept([a._replace(run_id=base + "/1", mate=1), b._replace(run_id=base + "/2", mate=2)])


def _mate_base(first: str, second: str) -> str:
    from virnucpro.io.mates import mate_name

    return mate_name(first, second) or first  # a mismatch is caught by the caller's ID check


def _kept(records) -> Iterator[SourceRecord]:
    """Drop empty records and read U as T, as the run does."""
    for r in records:
        seq = r.seq
        if not seq:
            continue
        if "U" in seq or "u" in seq:
            r = r._replace(seq=u_as_t([seq])[0][0])
        yield r


def input_keys(paths: list[str], paired: bool = False) -> list[str]:
    """The viral files the inputs call for, as kind+mate keys ('fa0', 'fq0'; --paired: 'fq1', 'fq2'), sorted.

    A file's kind comes from its first bytes (BAM and FASTQ: 'fq', FASTA: 'fa'); an empty file adds none.
    """
    keys = set()
    for k, path in enumerate(paths):
        kind = file_kind(path)
        if kind is None:
            continue
        mates = (0,) if not paired else (1, 2) if len(paths) == 1 else (k + 1,)
        keys.update(f"{kind}{m}" for m in mates)
    return sorted(keys)


def file_kind(path: str) -> str | None:
    """'fq' (FASTQ or BAM: reads with qualities), 'fa' (FASTA), or None (empty or neither), from the first bytes."""
    import xopen

    from virnucpro.io.bam import MAGIC

    with xopen.xopen(path, "rb") as raw:
        head = peekable(raw).peek(4)[:4]
    if head == MAGIC or head[:1] == b"@":
        return "fq"
    return "fa" if head[:1] == b">" else None


def _raw(path: str, threads: int, mate: int, digest: str | None = None) -> Iterator[SourceRecord]:
    """The records of one file with the run's ID as `run_id` (empty ones included); with `digest`, the file's
    bytes are hashed as they are read and checked against it at the end."""
    import io

    import xopen

    from virnucpro.cpus import decompression_threads
    from virnucpro.io.bam import MAGIC
    from virnucpro.io.hashing import HashingReader

    hashed = HashingReader(open(path, "rb")) if digest else None
    source = io.BufferedReader(hashed, 1 << 20) if hashed else path
    try:
        with xopen.xopen(source, "rb", threads=decompression_threads(threads)) as raw:
            stream = peekable(raw)
            if stream.peek(4)[:4] == MAGIC:
                yield from _bam(stream, mate)
            else:
                yield from _text(stream, mate)
        changed = hashed is not None and hashed.finish() != digest  # after xopen's reader threads have stopped
    finally:
        if hashed is not None:
            hashed.release()
    if changed:
        from virnucpro.errors import IntegrityError

        raise IntegrityError(f"{path!r} changed during the run (not the bytes hashed at its start): restore it and "
                             "rerun the same command, or rerun with --force to classify it as it is now")


def _text(stream, mate: int) -> Iterator[SourceRecord]:
    import dnaio

    with dnaio.open(stream) as reader:
        fasta = isinstance(reader, dnaio.FastaReader)
        kind = "fa" if fasta else "fq"
        for r in reader:
            seq = drop_inner_blanks([r.sequence])[0] if fasta else r.sequence
            yield SourceRecord(record_id(r.name), r.name, seq, "" if fasta else r.qualities, kind, mate)


def _bam(stream, mate: int) -> Iterator[SourceRecord]:
    from virnucpro.io.bam import bam_fastq_groups

    for names, seqs, quals, flags in bam_fastq_groups(stream):
        for name, seq, qual, flag in zip(names, seqs, quals, flags):
            yield SourceRecord(name, name, seq, qual, "fq", mate, bool(flag & _REVERSE))
