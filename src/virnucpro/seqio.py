"""Streaming FASTA/FASTQ input (plain, gz, bz2, xz, zst or stdin) in record batches, validated."""

from __future__ import annotations

import logging
import lzma
import os
import zlib
from dataclasses import dataclass, field
from typing import Iterator

from virnucpro import compiled
from virnucpro.cpus import decompression_threads
from virnucpro.duplicates import DuplicateChecker
from virnucpro.errors import InputError
from virnucpro.locate import CONTROL, CONTROL_TEXT, first_non_ascii, record_line
from virnucpro.record_groups import dnaio_groups, fasta_groups, peekable, rebatch

log = logging.getLogger("virnucpro")

PAIRED_HINT = ("IDs are the first word of the header, so paired reads 'r1 1:N' and 'r1 2:N' collide: run each "
               "mate file separately or rename them (append /1, /2)")


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


SPOOLED_NAME = ".input.spool"  # a piped input copied into the output directory (see spool.py)


def _describe(path: str) -> str:
    if path == "-" or os.path.basename(path) == SPOOLED_NAME:
        return "the piped input"
    return repr(path if len(path) <= 80 else "..." + path[-77:])  # error lines stay short


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

    return xopen.xopen(path, "rb", threads=decompression_threads(threads))


def _format_error(path: str, exc: BaseException, n_ok: int) -> InputError:
    """Translate a parser/decompressor exception into a one-line InputError."""
    import dnaio

    where = f"after record {n_ok}" if n_ok else "at the start"
    src = _describe(path)
    if _non_ascii(exc) and (at := first_non_ascii(path)) is not None and at[1] >= 1:  # inside a record
        return InputError(f"{src} is not valid FASTA/FASTQ: line {at[0]} (record {at[1]}) has a byte outside ASCII; "
                          "headers and sequences must be ASCII: fix or remove that line")
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


def _non_ascii(exc: BaseException) -> bool:
    return isinstance(exc, UnicodeDecodeError) or "ASCII" in str(exc)


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
            stream = peekable(raw)
            fast = compiled.prep() if stream.peek(1)[:1] == b">" else None
            groups = fasta_groups(stream, fast) if fast is not None else dnaio_groups(stream, batch_size)
            for ids, seqs in rebatch(groups, batch_size):
                _check_content(path, ids, seqs, stats.records)
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


def _check_content(path: str, ids: list[str], seqs: list[str], before: int) -> None:
    """Refuse records with no ID or with control bytes (NUL, ESC, ...) in the ID or sequence, by line.

    `before` = records read before this batch, so record numbers count from the file's start.
    """
    if "" in ids:
        no = before + ids.index("") + 1
        raise InputError(f"{_describe(path)}{_line(path, no)}: record {no} has a header with no ID: give every record "
                         "a name right after '>' or '@'")
    for texts, what in ((seqs, "sequence"), (ids, "ID")):
        i = _first_control(texts)
        if i >= 0:
            no, byte = before + i + 1, CONTROL_TEXT.search(texts[i]).group()
            raise InputError(f"{_describe(path)}{_line(path, no, CONTROL)}: record {no} ({ids[i][:40]!r}) has the "
                             f"control byte {byte!r} in its {what}: the file is corrupt; fix or re-export it")


def _first_control(texts: list[str]) -> int:
    """Index of the first text with a control byte, or -1 (compiled: ~free; else one regex pass)."""
    prep = compiled.prep()
    if prep is not None and hasattr(prep, "first_control"):
        return prep.first_control(texts)
    if not CONTROL_TEXT.search("".join(texts)):
        return -1
    return next(i for i, t in enumerate(texts) if CONTROL_TEXT.search(t))


def _line(path: str, record_no: int, pattern=None) -> str:
    line = record_line(path, record_no, pattern) if path != "-" else None
    return f" line {line}" if line else ""


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
        raise InputError(f"duplicate sequence ID {dup[:60]!r} in {_describe(path)}: {PAIRED_HINT}")
    stats.bases += sum(map(len, seqs))
    return RecordBatch(ids, seqs)

