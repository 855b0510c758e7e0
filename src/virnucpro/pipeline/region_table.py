"""regions.tsv: the viral regions of every sequence, computed from the committed work units at assembly.

Regions come from the assembled per-chunk data only (the units' frame rows and per-sequence rows, the
chunk rule and the run's parameters), so one run, a resumed run and a merge of shards write the same
bytes. A unit holds whole records: its `P` rows (input, chunk, frame order) give each chunk's best
scores, its `S` rows each sequence's ID, length and chunk count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from virnucpro.prep.chunking import chunk_bounds
from virnucpro.errors import IntegrityError
from virnucpro.models.regions import FRAME_SUFFIX, Region, RegionModel, find_regions
from virnucpro.pipeline.scoring import chunk_is_virus


@dataclass
class RegionCounts:
    """What the region pass saw, for the final check against the other tables."""

    frames: int = 0
    chunks_with_frames: int = 0
    sequences: int = 0
    regions: int = 0


@dataclass
class _Sequence:
    seq_id: str
    length: int
    n_chunks: int


def write_regions(unit_files: list[Path], out: IO[str], chunk_size: int, model: RegionModel) -> RegionCounts:
    """Append every sequence's regions (input order, then position) to `out` (header written by the caller).

    Raises:
        IntegrityError: a unit's frame rows do not match its sequence rows.
    """
    counts = RegionCounts()
    for path in unit_files:
        for seq, chunk_no, best1, best2 in _unit_chunks(path, counts, model.min_length):
            for k, r in enumerate(_sequence_regions(seq, chunk_no, best1, best2, chunk_size, model), 1):
                out.write(region_row(seq.seq_id, k, r))
                counts.regions += 1
    return counts


def region_row(seq_id: str, k: int, r: Region) -> str:
    """One regions.tsv row; the mean formatted like sequences.tsv's mean_virus_score."""
    return (f"{seq_id}\t{k}\t{r.start}\t{r.end}\t{r.length}\t{r.n_chunks}\t{r.n_viral_chunks}\t"
            f"{r.mean_virus_score:.6g}\n")


def _sequence_regions(seq: _Sequence, chunk_no: np.ndarray, best1: np.ndarray, best2: np.ndarray, chunk_size: int,
                      model: RegionModel) -> list[Region]:
    """Scatter the chunks with frames onto all of the sequence's chunks, then find its regions (the chunk calls and
    the region evidence both from the chunk's best score1 and score2, as in the consensus table)."""
    _, starts, ends = chunk_bounds(np.array([seq.length]), chunk_size)  # (C,) each
    if len(starts) != seq.n_chunks or (len(chunk_no) and int(chunk_no.max()) > seq.n_chunks):
        raise IntegrityError(f"sequence {seq.seq_id!r}: its chunks do not match its length {seq.length} at chunk size "
                             f"{chunk_size}: rerun with --force")
    m1, m2 = np.full(seq.n_chunks, np.nan), np.full(seq.n_chunks, np.nan)  # (C,) each, NaN = no kept frame
    called = np.zeros(seq.n_chunks, bool)
    m1[chunk_no - 1], m2[chunk_no - 1] = best1, best2
    called[chunk_no - 1] = chunk_is_virus(best1, best2)  # the call of prediction_results_highestscore.csv
    return find_regions(starts, ends, m1, m2, called, model)


def _unit_chunks(path: Path, counts: RegionCounts,
                 min_length: int) -> Iterator[tuple[_Sequence, np.ndarray, np.ndarray, np.ndarray]]:
    """Per sequence of a unit that is long enough to hold a region: (sequence, 1-based chunk numbers with frames,
    best score1, best score2 per chunk). Shorter sequences (most reads) are only counted."""
    seqs, frames = _read_unit(path)
    by_seq: dict[str, list[tuple[int, str, str]]] = {}
    for fid, s1, s2 in frames:
        m = FRAME_SUFFIX.search(fid)
        if m is None:
            raise IntegrityError(f"{path.name}: frame ID {fid!r} is not {{seq_id}}_chunk_{{k}}{{F|R}}{{n}}: rerun "
                                 "with --force")
        by_seq.setdefault(fid[:m.start()], []).append((int(m.group(1)), s1, s2))
    counts.frames += len(frames)
    counts.sequences += len(seqs)
    for seq in seqs:
        rows = by_seq.pop(seq.seq_id, [])
        if seq.length < min_length:
            counts.chunks_with_frames += len({r[0] for r in rows})
            continue
        chunk_no, best1, best2 = _best_per_chunk(rows)
        counts.chunks_with_frames += len(chunk_no)
        yield seq, chunk_no, best1, best2
    if by_seq:
        raise IntegrityError(f"{path.name}: frames of {next(iter(by_seq))!r}, a sequence the unit does not list: rerun "
                             "with --force")


def _best_per_chunk(rows: list[tuple[int, str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max score1 and max score2 over each chunk's frames (float32, as the classifier wrote them)."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
    arr = np.array([(c, float(a), float(b)) for c, a, b in rows], dtype=np.float64)  # (F, 3): chunk, score1, score2
    chunk_no, inverse = np.unique(arr[:, 0].astype(np.int64), return_inverse=True)
    best1 = np.full(len(chunk_no), -np.inf, np.float32)
    best2 = np.full(len(chunk_no), -np.inf, np.float32)
    np.maximum.at(best1, inverse, arr[:, 1].astype(np.float32))
    np.maximum.at(best2, inverse, arr[:, 2].astype(np.float32))
    return chunk_no, best1, best2


def _read_unit(path: Path) -> tuple[list[_Sequence], list[tuple[str, str, str]]]:
    """The unit's sequences (S rows) and frames (P rows: ID, score1 and score2 as written)."""
    seqs, frames = [], []
    with open(path) as fh:
        for line in fh:
            if line[0] == "P":
                fid, _, s1, s2 = line[2:-1].split("\t")
                frames.append((fid, s1, s2))
            elif line[0] == "S":
                f = line[2:-1].split("\t")
                seqs.append(_Sequence(f[0], int(f[1]), int(f[2])))
    return seqs, frames
