"""Work units of a predict run: deterministic groups of whole records, committed atomically.

A unit is a run of consecutive input records, closed once it holds >= `unit_frames` kept frames
(or 8x that many records, or the input ends): the same input and parameters always give the same
units, so a resumed run recomputes only units without a committed file and reassembles
byte-identical outputs.

A committed unit file `unit_{k:07d}.tsv` holds tagged lines: `P` prediction rows (frame order),
`C` consensus rows (sorted by Modified_ID), `S` per-sequence rows (input order).
"""

from __future__ import annotations

import heapq
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from virnucpro.atomic import write_atomic
from virnucpro.prepare import PreparedBatch, concat_batches, frames_per_record, slice_records

MERGE_FAN_IN = 64  # open files per merge pass


def unit_path(units_dir: Path, k: int) -> Path:
    return units_dir / f"unit_{k:07d}.tsv"


def group_units(batches: Iterable[PreparedBatch], unit_frames: int) -> Iterator[PreparedBatch]:
    """Regroup prepared record batches into units of whole records."""
    max_records = 8 * unit_frames
    pending: list[PreparedBatch] = []
    frames = records = 0
    for b in batches:
        start = 0
        for r, n in enumerate(frames_per_record(b).tolist()):
            frames += n
            records += 1
            if frames >= unit_frames or records >= max_records:
                pending.append(slice_records(b, start, r + 1))
                yield concat_batches(pending)
                pending, frames, records, start = [], 0, 0, r + 1
        if start < len(b.ids):
            pending.append(slice_records(b, start, len(b.ids)))
    if pending:
        yield concat_batches(pending)


def write_unit(path: Path, pred_rows: str, consensus: list[tuple[str, str]], seq_rows: str) -> None:
    """Commit one unit atomically (temp + rename)."""
    write_atomic(path, "".join([
        "".join(f"P\t{r}\n" for r in pred_rows.splitlines()),
        "".join(f"C\t{mid}\t{v}\n" for mid, v in sorted(consensus)),
        "".join(f"S\t{r}\n" for r in seq_rows.splitlines()),
    ]))


def committed_units(units_dir: Path) -> set[int]:
    """Indices of units with a committed file."""
    return {int(p.stem.split("_")[1]) for p in units_dir.glob("unit_*.tsv")} if units_dir.exists() else set()


def assemble(unit_files: list[Path], predictions: IO[str], highest: IO[str], sequences: IO[str]) -> None:
    """Concatenate P and S rows in unit order; k-way merge the sorted C rows (bounded memory)."""
    for f in unit_files:
        with open(f) as fh:
            for line in fh:
                if line[0] == "P":
                    predictions.write(line[2:])
                elif line[0] == "S":
                    sequences.write(line[2:])
    _merge_consensus(unit_files, highest)


def _consensus_lines(path: Path) -> Iterator[str]:
    with open(path) as fh:
        for line in fh:
            if line[0] == "C":
                yield line[2:]


def _by_id(line: str) -> str:
    return line.split("\t", 1)[0]


def _merge_consensus(sources: list[Path], out: IO[str]) -> None:
    """Merge per-unit sorted consensus rows by Modified_ID (plain string order), MERGE_FAN_IN files at a time."""
    with tempfile.TemporaryDirectory(dir=sources[0].parent if sources else None) as tmp:
        level = 0
        while len(sources) > MERGE_FAN_IN:
            runs = []
            for i in range(0, len(sources), MERGE_FAN_IN):
                run = Path(tmp) / f"run_{level}_{i}.tsv"
                with open(run, "w") as fh:
                    merged = heapq.merge(*(_consensus_lines(p) for p in sources[i:i + MERGE_FAN_IN]), key=_by_id)
                    fh.writelines("C\t" + line for line in merged)
                runs.append(run)
            sources, level = runs, level + 1
        out.writelines(heapq.merge(*(_consensus_lines(p) for p in sources), key=_by_id))
