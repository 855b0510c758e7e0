"""Streaming FASTA/FASTQ/uBAM input (plain, gz, bz2, xz, zst or stdin; one or several files, or mate pairs)
in validated record batches."""

from __future__ import annotations

import io
import logging
import lzma
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from itertools import chain
from typing import Iterator

from virnucpro import compiled
from virnucpro.io import mates
from virnucpro.io.bam import MAGIC, BamError, bam_groups
from virnucpro.cpus import decompression_threads
from virnucpro.io.duplicates import DuplicateChecker
from virnucpro.io.end_marker import TailKeeper, check_end_marker, check_ends, checker_for
from virnucpro.errors import InputError
from virnucpro.io.locate import CONTROL, CONTROL_TEXT, first_non_ascii, record_line
from virnucpro.io.repeated import duplicate_error, refuse_repeated_inputs
from virnucpro.io.record_groups import BadRecord, dnaio_groups, fasta_groups, peekable, rebatch
from virnucpro.io.rna import u_as_t

log = logging.getLogger("virnucpro")


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
    rna: int = 0  # records holding U, read as T (see rna.py)
    rna_ids: list[str] = field(default_factory=list)


SPOOLED_NAME = ".input.spool"  # a piped input copied into the output directory (see spool.py)


def _describe(path: str) -> str:
    if path == "-" or os.path.basename(path).startswith(SPOOLED_NAME):
        return "the piped input"
    return repr(path if len(path) <= 80 else "..." + path[-77:])  # error lines stay short


def check_input_path(path: str) -> None:
    if path == "":
        raise InputError("input path is empty: give a FASTA/FASTQ (plain, .gz, .bz2, .xz, .zst) or unaligned BAM file, "
                         "or '-' for stdin")
    if path == "-":
        return
    if not os.path.exists(path):
        if os.path.islink(path):
            raise InputError(f"input {path!r} is a symbolic link that leads nowhere (broken, or a loop of links): fix "
                             "the link or give the real file")
        raise InputError(f"input file {path!r} does not exist: check the path")
    if os.path.isdir(path):
        raise InputError(f"input {path!r} is a directory: give a FASTA/FASTQ or unaligned BAM file")


def stdin_binary():
    """stdin as a binary stream.

    Raises:
        InputError: stdin is closed (`<&-`) or a terminal (nothing was piped).
    """
    stdin = sys.stdin
    if stdin is None or getattr(stdin, "closed", False):
        raise InputError("stdin is closed, so '-' has nothing to read: pipe the input into virnucpro or give a file")
    if getattr(stdin, "isatty", lambda: False)():
        raise InputError("'-' reads stdin, but stdin is a terminal (nothing was piped): pipe the input, e.g. "
                         "`zcat reads.fa.gz | virnucpro predict - -o OUT`, or give a file")
    return stdin.buffer


def _open_stream(path: str, threads: int, keeper: TailKeeper | None = None):
    import xopen

    source = io.BufferedReader(keeper) if keeper is not None else path  # stdin: end marker checked at its end
    return xopen.xopen(source, "rb", threads=decompression_threads(threads))


def _short_quotes(msg: str, keep: int = 40) -> str:
    """The parser's message with each quoted text over `keep` characters cut (it quotes whole input lines)."""
    return re.sub(r"'([^']{%d})[^']+'" % keep, r"'\1...'", msg)


def _format_error(path: str, exc: BaseException, n_ok: int) -> InputError:
    """Translate a parser/decompressor exception into a one-line InputError."""
    import dnaio

    where = f", after {n_ok:,} good record(s)" if n_ok else ""  # records read whole before the problem, if any
    src = _describe(path)
    if _non_ascii(exc) and (at := first_non_ascii(path)) is not None and at[1] >= 1:  # inside a record
        return InputError(f"{src} is not valid FASTA/FASTQ: line {at[0]} (record {at[1]}) has a byte outside ASCII; "
                          "headers and sequences must be ASCII: fix or remove that line")
    if isinstance(exc, BamError):
        return InputError(f"{src} is not a valid unaligned BAM ({exc}): fix or re-export the file")
    if isinstance(exc, dnaio.exceptions.UnknownFileFormat) or isinstance(exc, UnicodeDecodeError):
        return InputError(f"{src} is not a FASTA or FASTQ file (unrecognised or binary content{where}): "
                          "give a FASTA/FASTQ file (optionally gz/bz2/xz/zst compressed) or an unaligned BAM")
    if isinstance(exc, dnaio.exceptions.FileFormatError):
        msg = _short_quotes(str(exc).splitlines()[0]).rstrip(".")
        return InputError(f"{src} is not valid FASTA/FASTQ ({msg}{where}): fix or re-export the file")
    if isinstance(exc, (EOFError, zlib.error, lzma.LZMAError)) or _compression_words(exc):
        return InputError(f"{src} is truncated or corrupt as a compressed file ({exc}{where}): "
                          f"re-download or re-compress it (check with `{checker_for(path)}`)")
    return InputError(f"cannot read {src} ({type(exc).__name__}: {exc}{where}): check the file")


def _compression_words(exc: BaseException) -> bool:
    """A decompressor's own error (isal's, zstd's, ...) names compression, its stream or a deflate block."""
    return any(word in str(exc).lower() for word in ("compress", "stream", "deflate"))


def _non_ascii(exc: BaseException) -> bool:
    return isinstance(exc, UnicodeDecodeError) or "ASCII" in str(exc)


def read_batches(path: str, batch_size: int = 16384, stats: ReadStats | None = None,
                 threads: int = 1) -> Iterator[RecordBatch]:
    """Yield batches of validated, non-empty records from `path` ('-' = stdin); see `read_inputs`."""
    return read_inputs([path], batch_size, stats, threads)


def read_inputs(paths: list[str], batch_size: int = 16384, stats: ReadStats | None = None, threads: int = 1,
                paired: bool = False, warn: bool = True) -> Iterator[RecordBatch]:
    """Yield batches of validated, non-empty records from the files in order (`paired`: mates, see `mates`).

    `warn=False` keeps the skipped-record warnings for a later pass over input already read once (they are
    said once per run).

    Raises:
        InputError: unreadable/non-FASTA input, corrupt compression, duplicate IDs, mates that do not pair.
    """
    stats = stats if stats is not None else ReadStats()
    dups = DuplicateChecker()
    named = _describe(paths[0]) if len(paths) == 1 else f"the {len(paths)} inputs"
    if not paired:  # --paired compares its two mate files itself
        refuse_repeated_inputs(paths, [_describe(p) for p in paths])
    for ids, seqs in _groups(paths, batch_size, stats, threads, paired):
        if not all(seqs):
            ids, seqs = _drop_empty(ids, seqs, stats)
        if not ids:
            continue
        if (dup := dups.add(ids)) is not None:
            raise duplicate_error(dup, named, paths, [_describe(p) for p in paths], paired)
        yield _finish_batch(ids, seqs, stats)
    if warn:
        _warn_skipped(named, stats)


def _warn_skipped(named: str, stats: ReadStats) -> None:
    if stats.rna:
        log.warning("read U as T in %d RNA record(s) of %s (first: %s): the frames are those of the same DNA",
                    stats.rna, named, ", ".join(repr(i) for i in stats.rna_ids))
    if stats.empty:
        log.warning("skipped %d empty record(s) in %s (first: %s)", stats.empty, named,
                    ", ".join(repr(i) for i in stats.empty_ids))


def _groups(paths: list[str], size: int, stats: ReadStats, threads: int, paired: bool):
    """(ids, seqs) groups of all files: one after the other, or as renamed mates."""
    def groups(path: str, n: int = size):
        return rebatch(_file_groups(path, n, stats, threads), n)

    if not paired:
        return chain.from_iterable(groups(p) for p in paths)
    if len(paths) == 1:
        return mates.interleaved(groups(paths[0], max(2, size - size % 2)), _describe(paths[0]))
    if len(paths) != 2:
        raise InputError(f"--paired takes two mate files (R1 R2) or one interleaved file, not {len(paths)}: run each "
                         "pair separately")
    names = (_describe(paths[0]), _describe(paths[1]))
    mates.refuse_same_file((paths[0], paths[1]), names)
    mates.refuse_mixed_formats((paths[0], paths[1]), names)
    return mates.two_files(groups(paths[0]), groups(paths[1]), names)


def _file_groups(path: str, size: int, stats: ReadStats, threads: int) -> Iterator[tuple[list[str], list[str]]]:
    """Validated (ids, seqs) groups of one file, parser errors turned into one-line InputErrors."""
    check_input_path(path)
    check_end_marker(path, _describe(path))
    keeper = TailKeeper(stdin_binary()) if path == "-" else None
    done = 0
    try:
        with _open_stream(path, threads, keeper) as raw:
            stream = peekable(raw)
            head = stream.peek(4)[:4]
            if head == MAGIC:
                groups, lines = bam_groups(stream, size), False
            else:
                fast = compiled.prep() if head[:1] == b">" else None
                groups = fasta_groups(stream, fast) if fast is not None else dnaio_groups(stream, size)
                lines = True
            for ids, seqs in groups:
                _check_content(path, ids, seqs, done, lines)
                done += len(ids)
                stats.records += len(ids)
                yield ids, seqs
        if keeper is not None:
            check_ends(keeper.head, keeper.tail, _describe(path))
    except InputError:
        raise
    except BadRecord as exc:
        no = done + exc.index + 1
        head = record_line(path, no, None) if path != "-" else None
        offset = {"sequence": 1, "qualities": 3}.get(exc.where, 0)  # a FASTQ record's 4 lines
        line = f" line {head + offset}" if head else ""
        raise InputError(f"{_describe(path)}{line}: record {no} has the byte {exc.char!r} in its {exc.where}: the "
                         "file is corrupt; fix or re-export it") from None
    except (Exception, EOFError) as exc:  # parser/decompressor failures only: see _format_error
        raise _format_error(path, exc, done) from None


def _check_content(path: str, ids: list[str], seqs: list[str], before: int, lines: bool = True) -> None:
    """Refuse records with no ID or with control bytes (NUL, ESC, ...) in the ID or sequence, by line.

    `before` = records read before this batch, so record numbers count from the file's start; `lines`:
    the file is text (not BAM), so the message can name the line.
    """
    if "" in ids:
        no = before + ids.index("") + 1
        raise InputError(f"{_describe(path)}{_line(path, no, None, lines)}: record {no} has a header with no ID: give every record "
                         "a name right after '>' or '@'")
    for texts, what in ((seqs, "sequence"), (ids, "ID")):
        i = _first_control(texts)
        if i >= 0:
            no, byte = before + i + 1, CONTROL_TEXT.search(texts[i]).group()
            raise InputError(f"{_describe(path)}{_line(path, no, CONTROL, lines)}: record {no} ({ids[i][:40]!r}) has the "
                             f"control byte {byte!r} in its {what}: the file is corrupt; fix or re-export it")


def _first_control(texts: list[str]) -> int:
    """Index of the first text with a control byte, or -1 (compiled: ~free; else one regex pass)."""
    prep = compiled.prep()
    if prep is not None and hasattr(prep, "first_control"):
        return prep.first_control(texts)
    if not CONTROL_TEXT.search("".join(texts)):
        return -1
    return next(i for i, t in enumerate(texts) if CONTROL_TEXT.search(t))


def _line(path: str, record_no: int, pattern=None, lines: bool = True) -> str:
    line = record_line(path, record_no, pattern) if path != "-" and lines else None
    return f" line {line}" if line else ""


def _drop_empty(ids: list[str], seqs: list[str], stats: ReadStats) -> tuple[list[str], list[str]]:
    """Remove empty records (the original crashes on them), counting them and keeping a few IDs to report."""
    empty = [i for i, s in zip(ids, seqs) if not s]
    stats.empty += len(empty)
    stats.empty_ids += empty[: 5 - len(stats.empty_ids)]
    kept = [(i, s) for i, s in zip(ids, seqs) if s]
    return [i for i, _ in kept], [s for _, s in kept]


def _finish_batch(ids: list[str], seqs: list[str], stats: ReadStats) -> RecordBatch:
    seqs, rna = u_as_t(seqs)
    if rna:
        stats.rna += len(rna)
        stats.rna_ids += [ids[k] for k in rna[:max(0, 3 - len(stats.rna_ids))]]
    stats.bases += sum(map(len, seqs))
    return RecordBatch(ids, seqs)

