"""Where in the input a problem is: line and record numbers for error messages (error paths only).

The parsers report records, not lines; a user fixes a file by line. These helpers re-read the
(re-readable) input once, counting lines as `sed -n` does and records as the parsers do: FASTA
records start at lines beginning with '>', FASTQ records are 4 lines.
"""

from __future__ import annotations

import re
from typing import Iterator

CONTROL = re.compile(rb"[\x00-\x09\x0b-\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL (line ends and edge whitespace are stripped first)
CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f]")  # in a parsed sequence or ID, where line ends are gone


def _lines(path: str) -> Iterator[tuple[int, int, bytes]]:
    """(line number, record number, line) over the decompressed input; record 0 = before the first header."""
    import xopen

    with xopen.xopen(path, "rb") as fh:
        first = fh.peek(1)[:1] if hasattr(fh, "peek") else b""
        fastq = first == b"@"
        record = 0
        for n, line in enumerate(fh, 1):
            if fastq:
                record = (n - 1) // 4 + 1
            elif line.startswith(b">"):
                record += 1
            yield n, record, line


def record_line(path: str, record_no: int, pattern: re.Pattern | None = None) -> int | None:
    """Line of record `record_no`'s header, or with `pattern`, of its first line where `pattern` matches."""
    try:
        for n, rec, line in _lines(path):
            if rec == record_no and (pattern is None or pattern.search(line.strip())):
                return n
            if rec > record_no:
                return None
    except (OSError, EOFError, ValueError):
        return None  # the input cannot be re-read (a stream): the message goes without a line number
    return None


def first_match(path: str, pattern: re.Pattern) -> tuple[int, int] | None:
    """(line, record) of the first line where `pattern` matches, or None."""
    try:
        for n, rec, line in _lines(path):
            if pattern.search(line):
                return n, rec
    except (OSError, EOFError, ValueError):
        return None
    return None


NON_ASCII = re.compile(rb"[\x80-\xff]")


def first_non_ascii(path: str) -> tuple[int, int] | None:
    """(line, record) of the first line with a byte outside ASCII (the parsers take ASCII only)."""
    return first_match(path, NON_ASCII)
