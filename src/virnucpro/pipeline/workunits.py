"""Work units of a predict run: deterministic groups of whole records, committed atomically.

A unit is a run of consecutive input records, closed once it holds >= `unit_frames` kept frames
(or 8x that many records, or the input ends): the same input and parameters always give the same
units, so a resumed run recomputes only units without a committed file and reassembles
byte-identical outputs.

A committed unit file `unit_{k:07d}.tsv` holds tagged lines: `P` prediction rows (frame order),
`C` consensus rows (sorted by Modified_ID), `S` per-sequence rows (input order), and a last `E`
line with the unit's row counts, a digest of its record IDs and the sha256 of every line above it.
A unit is only used when its file verifies against the plan (`UnitPlan`): a truncated, emptied,
edited or misplaced file is recomputed, never assembled.
"""

from __future__ import annotations

import hashlib
import heapq
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

from virnucpro.atomic import write_atomic
from virnucpro.prep.prepare import PreparedBatch, concat_batches, frames_per_record, slice_records

MERGE_FAN_IN = 64  # open files per merge pass


@dataclass(frozen=True)
class UnitPlan:
    """What a unit's committed file must hold: rows per table and which records."""

    index: int
    frames: int  # P rows
    chunks_with_frames: int  # C rows
    records: int  # S rows
    ids_digest: str

    @classmethod
    def of(cls, k: int, u: PreparedBatch) -> UnitPlan:
        return cls(k, len(u.frame_ids), len(set(u.frame_chunk.tolist())), len(u.ids), ids_digest(u.ids))

    def footer(self, body_sha256: str) -> str:
        return f"E\t{self.frames}\t{self.chunks_with_frames}\t{self.records}\t{self.ids_digest}\t{body_sha256}\n"


def ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]


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


def write_unit(path: Path, plan: UnitPlan, pred_rows: str, consensus: list[tuple[str, str]], seq_rows: str) -> None:
    """Commit one unit atomically (temp + fsync + rename), sealed with its footer."""
    body = "".join([
        "".join(f"P\t{r}\n" for r in pred_rows.splitlines()),
        "".join(f"C\t{mid}\t{v}\n" for mid, v in sorted(consensus)),
        "".join(f"S\t{r}\n" for r in seq_rows.splitlines()),
    ]).encode()
    write_atomic(path, body + plan.footer(hashlib.sha256(body).hexdigest()).encode())


def committed_units(units_dir: Path) -> set[int]:
    """Indices of units with a committed file (not yet verified: see `unit_ok`)."""
    if not units_dir.exists():
        return set()
    return {int(p.stem[5:]) for p in units_dir.glob("unit_*.tsv") if p.stem[5:].isdigit()}


def unit_ok(path: Path, plan: UnitPlan) -> bool:
    """True if the file is whole, unaltered and holds exactly the rows the plan expects."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    end = data.rfind(b"\nE\t") + 1
    if end == 0 and not data.startswith(b"E\t"):
        return False
    body, footer = data[:end], data[end:].decode("ascii", "replace")
    if footer != plan.footer(hashlib.sha256(body).hexdigest()):
        return False
    counts = {t: body.count(b"\n" + t + b"\t") + body.startswith(t + b"\t") for t in (b"P", b"C", b"S")}
    return (counts[b"P"], counts[b"C"], counts[b"S"]) == (plan.frames, plan.chunks_with_frames, plan.records)


def damaged_units(units_dir: Path, plans: list[UnitPlan]) -> list[int]:
    """Indices of the planned units whose file is missing or does not verify (see `unit_ok`)."""
    return [p.index for p in plans if not unit_ok(unit_path(units_dir, p.index), p)]


def assemble(unit_files: list[Path], predictions: IO[str], highest: IO[str], sequences: IO[str]) -> dict[str, int]:
    """Concatenate P and S rows in unit order; k-way merge the sorted C rows (bounded memory).

    Returns the rows written per table and the per-sequence verdict counts, for the final check.
    """
    rows = {"P": 0, "C": 0, "S": 0}
    verdicts: dict[str, int] = {}
    for f in unit_files:
        with open(f) as fh:
            for line in fh:
                if line[0] == "P":
                    predictions.write(line[2:])
                    rows["P"] += 1
                elif line[0] == "S":
                    sequences.write(line[2:])
                    rows["S"] += 1
                    verdict = line[line.rfind("\t") + 1:-1]
                    verdicts[verdict] = verdicts.get(verdict, 0) + 1
    rows["C"] = _merge_consensus(unit_files, highest)
    return {"prediction_rows": rows["P"], "consensus_rows": rows["C"], "sequence_rows": rows["S"], **verdicts}


def _consensus_lines(path: Path) -> Iterator[str]:
    with open(path) as fh:
        for line in fh:
            if line[0] == "C":
                yield line[2:]


def _by_id(line: str) -> str:
    return line.split("\t", 1)[0]


def _merge_consensus(sources: list[Path], out: IO[str]) -> int:
    """Merge per-unit sorted consensus rows by Modified_ID (plain string order), MERGE_FAN_IN files at a time."""
    with tempfile.TemporaryDirectory(prefix=".merge-", dir=sources[0].parent if sources else None) as tmp:
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
        n = 0
        for line in heapq.merge(*(_consensus_lines(p) for p in sources), key=_by_id):
            out.write(line)
            n += 1
        return n
