"""Streaming FASTA/FASTQ input (plain, gz, bz2, xz, zst or stdin) in record batches, validated."""

from __future__ import annotations

import io
import itertools
import logging
import lzma
import os
import zlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from virnucpro import compiled
from virnucpro.errors import InputError

log = logging.getLogger("virnucpro")

PAIRED_HINT = (
    "IDs are the first word of each header, so paired reads such as 'r1 1:N:0' and 'r1 2:N:0' "
    "collide: give every record a unique first word (run each mate file separately, or rename the "
    "reads, e.g. append /1 and /2)"
)


@dataclass
class RecordBatch:
    """A batch of non-empty input records, in input order."""

    ids: list[str]
    seqs: list[str]


@dataclass
class ReadStats:
    """Counts gathered while reading."""

    records: int = 0
    empty: int = 0
    bases: int = 0
    empty_ids: list[str] = field(default_factory=list)


class DuplicateChecker:
    """Detects repeated IDs from 64-bit hashes of them: a false alarm needs a 64-bit collision between two
    distinct IDs of the same input (~n^2 / 2^65).

    Compiled path: a hash set (<= 16 bytes per ID). Otherwise: Python's string hash (stable within one
    process) in sorted runs merged LSM style (8 bytes per ID).
    """

    def __init__(self) -> None:
        prep = compiled.prep()
        self._set = prep.IdSet() if prep is not None else None
        self._runs: list[np.ndarray] = []

    def add(self, ids: list[str]) -> str | None:
        """Add a batch of IDs; return the first ID already seen (in this batch or before), or None."""
        if self._set is not None:
            i = self._set.add(ids)
            return ids[i] if i >= 0 else None
        h = np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(h, kind="stable")
        hs = h[order]
        repeated = order[1:][hs[1:] == hs[:-1]]  # later occurrences within the batch
        seen_before = [order[_members(run, hs)] for run in self._runs]  # sorted queries: cache-friendly search
        hits = np.concatenate([repeated, *seen_before])
        if len(hits):
            return ids[int(hits.min())]
        self._push(hs)
        return None

    def _push(self, run: np.ndarray) -> None:
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-1]) >= len(self._runs[-2]):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(np.sort(np.concatenate([a, b]), kind="mergesort"))


def _members(sorted_run: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Indices of `h` whose value occurs in `sorted_run`."""
    idx = np.searchsorted(sorted_run, h).clip(max=len(sorted_run) - 1)
    return np.flatnonzero(sorted_run[idx] == h)


def record_id(header: str) -> str:
    """ID = first whitespace-separated token of the header (Biopython's `record.id`)."""
    parts = header.split(None, 1)
    return parts[0] if parts else ""  # an empty header gives an empty ID, as Biopython does


def _describe(path: str) -> str:
    return "standard input" if path == "-" else repr(path)


def check_input_path(path: str) -> None:
    if path == "":
        raise InputError("input path is empty: give a FASTA/FASTQ file (plain, .gz, .bz2, .xz, .zst) or '-' for stdin")
    if path == "-":
        return
    if not os.path.exists(path):
        raise InputError(f"input file {path!r} does not exist: check the path")
    if os.path.isdir(path):
        raise InputError(f"input {path!r} is a directory: give a FASTA/FASTQ file")


def _open_stream(path: str, threads: int):
    import xopen

    return xopen.xopen(path, "rb", threads=max(0, threads - 1))


def _format_error(path: str, exc: BaseException, n_ok: int) -> InputError:
    """Translate a parser/decompressor exception into a one-line InputError."""
    import dnaio

    where = f"after record {n_ok}" if n_ok else "at the start"
    src = _describe(path)
    if isinstance(exc, dnaio.exceptions.UnknownFileFormat) or isinstance(exc, UnicodeDecodeError):
        return InputError(f"{src} is not a FASTA or FASTQ file (unrecognised or binary content {where}): "
                          "give a FASTA/FASTQ file, optionally gz/bz2/xz/zst compressed")
    if isinstance(exc, dnaio.exceptions.FileFormatError):
        msg = str(exc).splitlines()[0]
        return InputError(f"{src} is not valid FASTA/FASTQ ({msg}; {where}): fix or re-export the file")
    if isinstance(exc, (EOFError, zlib.error, lzma.LZMAError)) or "compress" in str(exc).lower() or "stream" in str(exc).lower():
        return InputError(f"{src} is truncated or corrupt as a compressed file ({exc}; {where}): "
                          "re-download or re-compress it (check with e.g. `gzip -t`)")
    return InputError(f"cannot read {src} ({type(exc).__name__}: {exc}; {where}): check the file")


def read_batches(path: str, batch_size: int = 16384, stats: ReadStats | None = None,
                 threads: int = 1) -> Iterator[RecordBatch]:
    """Yield batches of validated, non-empty records from `path` ('-' = stdin).

    Raises:
        InputError: unreadable/non-FASTA input, corrupt compression or duplicate IDs.
    """
    check_input_path(path)
    stats = stats if stats is not None else ReadStats()
    dups = DuplicateChecker()
    try:
        with _open_stream(path, threads) as raw:
            stream = _peekable(raw)
            fast = compiled.prep() if stream.peek(1)[:1] == b">" else None
            groups = _fasta_groups(stream, fast) if fast is not None else _dnaio_groups(stream, batch_size)
            for ids, seqs in _rebatch(groups, batch_size):
                stats.records += len(ids)
                if not all(seqs):
                    ids, seqs = _drop_empty(ids, seqs, stats)
                if ids:
                    yield _finish_batch(path, ids, seqs, dups, stats)
    except InputError:
        raise
    except (Exception, EOFError) as exc:  # parser/decompressor failures only: see _format_error
        raise _format_error(path, exc, stats.records) from None
    if stats.empty:
        log.warning("skipped %d empty record(s) in %s (first: %s)", stats.empty, _describe(path),
                    ", ".join(repr(i) for i in stats.empty_ids))


def _peekable(raw):
    """The decompressed stream with `peek` (dnaio sniffs the format through it; so does the fast path)."""
    return raw if hasattr(raw, "peek") else io.BufferedReader(raw)


def _dnaio_groups(stream, size: int) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, seqs) groups parsed by dnaio (FASTQ, FASTA without the compiled path, anything unusual)."""
    import dnaio

    with dnaio.open(stream) as reader:
        records = iter(reader)  # one iterator: each iter(reader) would restart from the raw stream
        while recs := list(itertools.islice(records, size)):
            yield [record_id(r.name) for r in recs], [r.sequence for r in recs]


def _fasta_groups(stream, prep, block: int = 4 << 20) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, seqs) groups of plain-ASCII FASTA split by the compiled parser, one per block of whole records.

    A block it declines (non-ASCII bytes, text before the first header) goes to dnaio, which parses it
    or raises the error it would have raised on the whole file.
    """
    for text in _whole_record_blocks(stream, block):
        parsed = prep.split_fasta(text)
        if parsed is None:
            yield from _dnaio_groups(io.BytesIO(bytes(text)), 1 << 30)
        else:
            yield parsed


def _whole_record_blocks(stream, block: int) -> Iterator[bytes]:
    """The stream in blocks that each end just before a line starting with '>' (memory: one block + the
    longest record; a record longer than a block is gathered in parts and joined once)."""
    pending: list[bytes] = []
    while data := stream.read(block):
        at = data.rfind(b"\n>") + 1  # start of the last header line in data; 0 = none found
        if at == 0:
            if data[:1] == b">" and pending and pending[-1].endswith(b"\n"):  # the boundary is at the seam
                yield b"".join(pending)
                pending = [data]
            else:
                pending.append(data)
            continue
        pending.append(data[:at])
        yield b"".join(pending)
        pending = [data[at:]]
    if pending:
        yield b"".join(pending)


def _rebatch(groups: Iterator[tuple[list[str], list[str]]], size: int) -> Iterator[tuple[list[str], list[str]]]:
    """Regroup (ids, seqs) pairs into batches of exactly `size` records (the last one shorter)."""
    ids: list[str] = []
    seqs: list[str] = []
    for gi, gs in groups:
        ids += gi
        seqs += gs
        while len(ids) >= size:
            yield ids[:size], seqs[:size]
            ids, seqs = ids[size:], seqs[size:]
    if ids:
        yield ids, seqs


def _drop_empty(ids: list[str], seqs: list[str], stats: ReadStats) -> tuple[list[str], list[str]]:
    """Remove empty records (the original crashes on them), counting them and keeping a few IDs to report."""
    empty = [i for i, s in zip(ids, seqs) if not s]
    stats.empty += len(empty)
    stats.empty_ids += empty[: 5 - len(stats.empty_ids)]
    kept = [(i, s) for i, s in zip(ids, seqs) if s]
    return [i for i, _ in kept], [s for _, s in kept]


def _finish_batch(path: str, ids: list[str], seqs: list[str], dups: DuplicateChecker,
                  stats: ReadStats) -> RecordBatch:
    dup = dups.add(ids)
    if dup is not None:
        raise InputError(f"duplicate sequence ID {dup!r} in {_describe(path)}: {PAIRED_HINT}")
    stats.bases += sum(map(len, seqs))
    return RecordBatch(ids, seqs)

