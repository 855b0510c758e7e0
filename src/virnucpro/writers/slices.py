"""Per-unit sequence slices: the input records of one work unit that the sequence files may need, sealed.

A run keeps no copy of its input, and `merge` cannot read it, so a shard's finish stage re-reads the
input once and stores, per unit, only the records that a sequence file can use: those called `virus`,
those long enough to hold a viral region (at least `--min-region-length` bp), and with `--paired` both
mates of a pair with a `virus` mate plus the unit's first and last record (a pair may straddle two
units). A one-shot run writes the files straight from the same selection (`stored_units`), a merge from
the slices: the same records in the same order, so the same bytes.

A slice `seqs_{k:07d}.txt` holds 4 lines per record (`R TAB run_id TAB verdict TAB kind TAB mate TAB reverse`,
header, sequence, qualities) and a last line `E TAB k TAB records TAB kinds TAB sha256`, where `kinds`
lists the run's viral files as kind+mate keys (from its inputs, see `source_records.input_keys`) and sha256 seals the
lines above.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from virnucpro.atomic import atomic_files
from virnucpro.errors import IntegrityError
from virnucpro.io.source_records import SourceRecord
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.workunits import UnitPlan, unit_path

Stored = tuple[str, SourceRecord]  # (verdict, record)
_FOOTER_MAX = 4096  # bytes: the footer line is far shorter
_MATES = {"0": 0, "1": 1, "2": 2}


def stored_units(out: OutputPaths, plans: list[UnitPlan], records: Iterator[SourceRecord], min_length: int,
                 owned=lambda k: True) -> Iterator[tuple[UnitPlan, Iterator[Stored]]]:
    """Walk the input records along the unit plan: each owned unit's stored (verdict, record) stream, in order
    (consume each unit's stream before asking for the next unit; one record and its mate at a time in memory).

    Raises:
        IntegrityError: the records do not match the units' sequence rows (the input changed during the run).
    """
    for plan in plans:
        mine = islice(records, plan.records)
        if not owned(plan.index):
            for _ in mine:  # another shard's unit: read past it
                pass
            continue
        checked = _checked(mine, unit_rows(unit_path(out.units, plan.index)), plan)
        yield plan, needed(checked, min_length)
    if next(records, None) is not None:  # reading to the end also checks the file's sha256 (source_records)
        raise IntegrityError("the input now has more records than the run read: the input changed during the run; "
                             "rerun with --force")


def write_slices(out: OutputPaths, plans: list[UnitPlan], records: Iterator[SourceRecord], min_length: int,
                 owned, keys: list[str]) -> None:
    """A shard's slices: one sealed file per owned unit, each naming the run's viral file `keys`."""
    for plan, stored in stored_units(out, plans, records, min_length, owned):
        write_slice(out.unit_sequences(plan.index), plan.index, stored, keys)


def unit_rows(path: Path) -> Iterator[tuple[str, int, str]]:
    """(seq_id, length, verdict) of each S row of a committed unit, in input order."""
    with open(path, newline="\n") as fh:  # lines end at LF only: no other byte may split a stored line
        for line in fh:
            if line[0] == "S":
                f = line[2:-1].split("\t")
                yield f[0], int(f[1]), f[-1]


def _checked(records: Iterator[SourceRecord], rows: Iterator[tuple[str, int, str]],
             plan: UnitPlan) -> Iterator[tuple[str, SourceRecord, int]]:
    """(verdict, record, length) of each record, checked against its unit's sequence row."""
    n = 0
    for r, (seq_id, length, verdict) in zip(records, rows):
        if r.run_id != seq_id or len(r.seq) != length:
            raise IntegrityError(f"work unit {plan.index}: the input now gives {r.run_id!r} ({len(r.seq)} bp) where "
                                 f"the run read {seq_id!r} ({length} bp): the input changed during the run; rerun "
                                 "with --force")
        n += 1
        yield verdict, r, length
    if n != plan.records:
        raise IntegrityError(f"work unit {plan.index}: the input ended before the unit's {plan.records} records: the "
                             "input changed during the run; rerun with --force")


def needed(checked: Iterable[tuple[str, SourceRecord, int]], min_length: int) -> Iterator[Stored]:
    """The records of a unit a sequence file may need (see the module docstring), as (verdict, record)."""
    pending = None  # a first mate waiting for its second
    for verdict, r, length in checked:
        if r.mate == 0:
            if verdict == "virus" or length >= min_length:
                yield verdict, r
        elif r.mate == 1:
            if pending is not None:  # not followed by its mate: kept (never happens in a run's order)
                yield pending[:2]
            pending = (verdict, r, length)
        elif pending is not None and r.run_id == pending[1].run_id[:-2] + "/2":
            pair_virus = "virus" in (verdict, pending[0])
            if pair_virus or pending[2] >= min_length:
                yield pending[:2]
            if pair_virus or length >= min_length:
                yield verdict, r
            pending = None
        else:  # a second mate whose first is in the previous unit
            if pending is not None:
                yield pending[:2]
                pending = None
            yield verdict, r
    if pending is not None:  # a first mate whose second is in the next unit
        yield pending[:2]


def write_slice(path: Path, k: int, stored: Iterable[Stored], keys: list[str]) -> None:
    """Commit one unit's slice atomically, sealed with its footer (streamed, 4,096 records at a time)."""
    h = hashlib.sha256()
    n = 0
    with atomic_files([path], "wb") as (fh,):
        it = iter(stored)
        while block := list(islice(it, 4096)):
            data = "".join([f"R\t{r.run_id}\t{v}\t{r.kind}\t{r.mate}\t{int(r.reverse)}\n"
                            f"{r.header}\n{r.seq}\n{r.qual}\n" for v, r in block]).encode()
            h.update(data)
            fh.write(data)
            n += len(block)
        fh.write(f"E\t{k}\t{n}\t{','.join(keys) or '-'}\t{h.hexdigest()}\n".encode())


def _footer(path: Path) -> tuple[list[str], int] | None:
    """The footer's fields and the body's size, or None when the file has none."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            fh.seek(max(0, size - _FOOTER_MAX))
            tail = fh.read()
    except OSError:
        return None
    at = tail.rfind(b"\nE\t", 0, len(tail) - 1) + 1
    if at == 0 and not (size <= _FOOTER_MAX and tail.startswith(b"E\t")):
        return None
    line = tail[at:].decode("ascii", "replace")
    return (line[:-1].split("\t") if line.endswith("\n") else []), size - (len(tail) - at)


def slice_ok(path: Path, k: int) -> bool:
    """True if the slice is whole, unaltered and belongs to unit k (streamed: flat memory)."""
    found = _footer(path)
    if found is None or len(found[0]) != 5 or found[0][1] != str(k):
        return False
    fields, body = found
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        left = body
        while left > 0 and (block := fh.read(min(left, 1 << 20))):
            h.update(block)
            left -= len(block)
    return left == 0 and h.hexdigest() == fields[4]


def damaged_slices(out: OutputPaths, plans: list[UnitPlan]) -> list[int]:
    """Indices of the planned units whose slice is missing or does not verify."""
    return [p.index for p in plans if not slice_ok(out.unit_sequences(p.index), p.index)]


def slice_keys(path: Path) -> list[str]:
    """The run's viral file keys (kind+mate, e.g. ['fa0'], ['fq1', 'fq2']) as a slice records them."""
    found = _footer(path)
    assert found is not None, path
    return [] if found[0][3] == "-" else found[0][3].split(",")


def read_slices(paths: Iterable[Path]) -> Iterator[Stored]:
    """The stored records of the slices in order (one record's lines at a time)."""
    for path in paths:
        with open(path, newline="\n") as fh:  # as written: a stored header or quality is split at LF only
            lines = iter(fh)
            for meta in lines:
                if meta[:2] != "R\t":
                    break
                _, run_id, verdict, kind, mate, rev = meta[:-1].split("\t")
                header, seq, qual = next(lines)[:-1], next(lines)[:-1], next(lines)[:-1]
                yield verdict, SourceRecord(run_id, header, seq, qual, kind, _MATES[mate], rev == "1")
