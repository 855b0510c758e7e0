"""The numbers behind a report, read from a finished run's tables in bounded memory (bins, not rows).

Frame virus scores come from `prediction_results.txt` (score2), everything per sequence from
`sequences.tsv`; both are streamed in blocks of lines, so a run of any size costs a fixed amount of
memory and gives a report of a fixed size.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCORE_EDGES = np.linspace(0.0, 1.0, 51)  # frame virus score, 50 bins
FRACTION_EDGES = np.linspace(0.0, 1.0, 21)  # per-sequence viral fraction, 20 bins
BINS_PER_DECADE = 8
LOG_LENGTH_EDGES = np.arange(0, 9 * BINS_PER_DECADE + 1) / BINS_PER_DECADE  # log10 length: 1 bp .. 1 Gbp
BEST_SCORE_EDGES = np.linspace(0.0, 1.0, 21)
TOP_N = 25
SHORT_SHARE = 10  # a sequence shorter than chunk_size / SHORT_SHARE is marked "short" (its call rests on a few residues)
BLOCK_BYTES = 16 << 20
SEQUENCE_COLUMNS = ("seq_id", "length", "n_chunks", "n_chunks_with_frames", "n_viral_chunks", "fraction_viral",
                    "max_virus_score", "mean_virus_score", "verdict")


@dataclass
class RunFigures:
    """Aggregates of one run: histograms, a length x best-score grid, verdict counts and the top sequences."""

    frame_scores: np.ndarray = field(default_factory=lambda: np.zeros(len(SCORE_EDGES) - 1, np.int64))
    fractions: np.ndarray = field(default_factory=lambda: np.zeros(len(FRACTION_EDGES) - 1, np.int64))
    length_score: np.ndarray = field(
        default_factory=lambda: np.zeros((len(LOG_LENGTH_EDGES) - 1, len(BEST_SCORE_EDGES) - 1), np.int64))
    verdicts: dict[str, int] = field(default_factory=lambda: {"virus": 0, "others": 0, "no_frames": 0})
    frames: int = 0
    sequences: int = 0
    bases: int = 0
    top: list[tuple] = field(default_factory=list)  # sequences.tsv rows (as tuples), best first
    short_bp: int = 0  # sequences with frames shorter than this are counted (and marked) as short
    short: dict[str, int] = field(default_factory=dict)  # verdict -> short sequences with frames

    def length_range(self) -> tuple[int, int]:
        """The length bins of the heatmap's x axis: whole decades around every sequence with frames."""
        used = np.nonzero(self.length_score.sum(axis=1))[0]
        if not used.size:
            return 2 * BINS_PER_DECADE, 3 * BINS_PER_DECADE
        lo = int(used[0]) // BINS_PER_DECADE * BINS_PER_DECADE
        return lo, -(-(int(used[-1]) + 1) // BINS_PER_DECADE) * BINS_PER_DECADE


def short_limit(chunk_size: int) -> int:
    """The length (bp) under which a sequence is far shorter than the chunk size: marked short in reports."""
    return max(int(chunk_size) // SHORT_SHARE, 1)


def collect(predictions: Path, sequences: Path, top_n: int = TOP_N, short_bp: int = 0) -> RunFigures:
    """Stream the two tables once each into a RunFigures (counting sequences with frames under `short_bp`)."""
    figs = RunFigures(short_bp=short_bp)
    for fields in _blocks(predictions, 4):
        scores = np.fromiter(map(float, fields[3::4]), np.float64)  # score2 of each frame
        figs.frame_scores += np.histogram(scores, SCORE_EDGES)[0]
        figs.frames += scores.size
    best: list[tuple] = []
    for fields in _blocks(sequences, 9):
        keep, scores = _add_sequences(figs, fields)
        best = heapq.nlargest(top_n, best + _candidates(fields, keep, scores, top_n), key=_rank)
    figs.top = best
    return figs


def _blocks(path: Path, n_fields: int, size: int = BLOCK_BYTES):
    """The fields of whole data lines (header skipped), about `size` bytes at a time. IDs hold no whitespace
    (an ID is the first word of a header), so splitting on whitespace gives `n_fields` per line."""
    with open(path) as fh:
        fh.readline()
        while lines := fh.readlines(size):
            fields = "".join(lines).split()
            assert len(fields) == n_fields * len(lines), f"{path}: a line without {n_fields} fields"
            yield fields


def _add_sequences(figs: RunFigures, fields: list[str]) -> tuple[list[int], np.ndarray]:
    """Count one block of sequences.tsv; returns the rows with frames and their best frame scores."""
    verdicts = fields[8::9]
    lengths = np.fromiter(map(int, fields[1::9]), np.int64)
    figs.sequences += lengths.size
    figs.bases += int(lengths.sum())
    for v in set(verdicts):
        figs.verdicts[v] = figs.verdicts.get(v, 0) + verdicts.count(v)
    keep = [k for k, v in enumerate(verdicts) if v != "no_frames"]
    for k in keep:
        if lengths[k] < figs.short_bp:
            figs.short[verdicts[k]] = figs.short.get(verdicts[k], 0) + 1
    fraction_col, best_col = fields[5::9], fields[6::9]
    fractions = np.fromiter((float(fraction_col[k]) for k in keep), np.float64, len(keep))
    best = np.fromiter((float(best_col[k]) for k in keep), np.float64, len(keep))
    figs.fractions += np.histogram(fractions, FRACTION_EDGES)[0]
    log_len = np.log10(np.maximum(lengths[keep].astype(np.float64), 1))
    grid, _, _ = np.histogram2d(np.clip(log_len, 0, LOG_LENGTH_EDGES[-1]), best, (LOG_LENGTH_EDGES, BEST_SCORE_EDGES))
    figs.length_score += grid.astype(np.int64)
    return keep, best


def _rank(row: tuple) -> tuple:
    """Highest best-frame score first, then the higher viral fraction, then the longer sequence."""
    return float(row[6]), float(row[5]), int(row[1])


def _candidates(fields: list[str], keep: list[int], best: np.ndarray, n: int) -> list[tuple]:
    """The block's top `n` rows with frames: those at or above the n-th best score (ties included), ranked."""
    if len(keep) > n:
        cut = np.partition(best, len(keep) - n)[len(keep) - n]
        keep = [k for k, b in zip(keep, best.tolist()) if b >= cut]
    return heapq.nlargest(n, (tuple(fields[9 * k:9 * k + 9]) for k in keep), key=_rank)
