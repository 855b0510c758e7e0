"""`--paired`: mates whose IDs are the same read name become `ID/1` and `ID/2`, each its own read.

Mates come from two files in the same order (R1, R2) or from one interleaved file (R1, R2, R1, ...).
The mates of a pair must share their ID (the first word of the header, as Illumina's `r1 1:N:0` /
`r1 2:N:0`), or differ only by an old-style `/1` and `/2` ending. Output order is interleaved, so two
mate files and the same reads interleaved give the same run.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest

from virnucpro.errors import InputError

Groups = Iterator[tuple[list[str], list[str]]]


def refuse_mixed_formats(paths: tuple[str, str], names: tuple[str, str]) -> None:
    """Raises InputError if one mate file is FASTA and the other FASTQ or BAM: a pair's reads go to one file kind
    (viral_R1/R2.fa or .fq), and a FASTA mate has no qualities to give."""
    from virnucpro.io.source_records import file_kind

    if "-" in paths:
        return
    kinds = [file_kind(p) for p in paths]
    if None not in kinds and kinds[0] != kinds[1]:
        said = {"fa": "FASTA", "fq": "FASTQ/BAM"}
        raise InputError(f"--paired: {names[0]} is {said[kinds[0]]} but {names[1]} is {said[kinds[1]]}: give both "
                         "mates in one format (convert the FASTQ mate with `seqtk seq -a`, or pass the FASTQ of both)")


def refuse_same_file(paths: tuple[str, str], names: tuple[str, str]) -> None:
    """Raises InputError if the two mate files are one file (same path, a link) or two copies (same content).

    Sizes are compared first, so distinct mate files (whose sizes differ) are never hashed.
    """
    import os

    from virnucpro.io.repeated import same_bytes

    if "-" in paths:
        return
    if os.path.samefile(*paths) or same_bytes(*paths):
        raise InputError(f"--paired: the mate file {names[1]} is the first file again (same path or same content), so "
                         "every read would pair with itself: give the R1 and the R2 file, or one interleaved file")


def two_files(first: Groups, second: Groups, names: tuple[str, str]) -> Groups:
    """Interleaved, renamed mates of two files whose groups have equal sizes (see `rebatch`).

    Raises:
        InputError: the files hold different numbers of reads or a pair's IDs differ.
    """
    done = 0
    for a, b in zip_longest(first, second):
        if a is None or b is None or len(a[0]) != len(b[0]):
            longer = names[1] if a is None or (b is not None and len(b[0]) > len(a[0])) else names[0]
            raise InputError(f"--paired: {longer} holds more reads than its mate file: mate files must hold the same "
                             "reads in the same order")
        yield _interleave(a, b, done, names)
        done += len(a[0])


def interleaved(groups: Groups, name: str) -> Groups:
    """Renamed mates of one interleaved file whose groups hold an even number of reads (except the last).

    Raises:
        InputError: an odd number of reads, or a pair whose IDs differ.
    """
    done = 0
    for ids, seqs in groups:
        lone = _first_unpaired(ids)
        if lone is not None and lone == len(ids) - 1:
            raise InputError(f"--paired: {name} holds an odd number of reads (read {done * 2 + lone + 1}, "
                             f"{ids[lone][:60]!r}, has no mate): give an interleaved file (R1, R2, R1, ...) or two "
                             "mate files")
        if lone is not None:
            raise InputError(f"--paired: read {done * 2 + lone + 1} of {name} ({ids[lone][:60]!r}) has no mate next to "
                             "it: an interleaved file holds R1, R2, R1, R2, ... with each pair's IDs equal; fix the "
                             "file or give two mate files")
        yield _interleave((ids[0::2], seqs[0::2]), (ids[1::2], seqs[1::2]), done, (name, name))
        done += len(ids) // 2


def _first_unpaired(ids: list[str]) -> int | None:
    """Index of the first read of a group that does not pair with its neighbour, or None (all pair)."""
    if len(ids) % 2 == 0 and all(mate_name(x, y) is not None for x, y in zip(ids[0::2], ids[1::2])):
        return None
    for k in range(0, len(ids), 2):
        if k + 1 >= len(ids) or mate_name(ids[k], ids[k + 1]) is None:
            return k
    return None


def _interleave(a: tuple[list[str], list[str]], b: tuple[list[str], list[str]], done: int,
                names: tuple[str, str]) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    for k, (x, y) in enumerate(zip(a[0], b[0])):
        base = mate_name(x, y)
        if base is None:
            where = f"in {names[0]} and {names[1]}" if names[0] != names[1] else f"in {names[0]}"
            raise InputError(f"--paired: pair {done + k + 1} has the IDs {x[:50]!r} and {y[:50]!r} {where}: mates "
                             "must share their ID (same reads, same order); without mates, drop --paired")
        ids += (base + "/1", base + "/2")
    seqs = [s for pair in zip(a[1], b[1]) for s in pair]
    return ids, seqs


def mate_name(first: str, second: str) -> str | None:
    """The shared read name of two mate IDs (`r1`/`r1`, or `r1/1`/`r1/2`), else None (also for `r1/1` twice: two
    first mates, not a pair)."""
    if first == second:
        return None if first.endswith(("/1", "/2")) else first
    if first.endswith("/1") and second.endswith("/2") and first[:-2] == second[:-2]:
        return first[:-2]
    return None
