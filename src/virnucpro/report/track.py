"""The report's regions section: score tracks of the longest sequences with viral regions, and the top regions.

Read in bounded memory from a finished run's tables: regions.tsv and sequences.tsv are walked together
(both in input order) keeping only the TRACKS longest sequences with regions and the TOP_REGIONS longest
regions; prediction_results.txt is then streamed once for those few sequences' chunk scores. A track
draws at most TRACK_BINS points (chunk scores averaged per bin), so the section has a fixed size.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from virnucpro.report import svg
from virnucpro.report.style import VERDICT_COLORS
from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too

TRACKS = 4
TOP_REGIONS = 25
TRACK_BINS = 300
REGION_COLUMNS = ("seq_id", "region", "start", "end", "length", "n_chunks", "n_viral_chunks", "mean_virus_score")


@dataclass
class Track:
    """One sequence's chunk scores along it and its regions."""

    seq_id: str
    length: int
    regions: list[tuple[int, int]]  # 1-based inclusive (start, end)
    mid: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (C,) chunk centres, bp
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (C,) best virus score, NaN = no frames


@dataclass
class RegionFigures:
    """What the section shows: the region count, the top rows and the tracks."""

    regions: int = 0
    sequences_with_regions: int = 0
    top: list[tuple] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)


def collect(run_dir: Path, chunk_size: int, n_tracks: int = TRACKS, top_n: int = TOP_REGIONS) -> RegionFigures | None:
    """The section's numbers; None when the run has no regions.tsv (a run made before regions)."""
    path = run_dir / "regions.tsv"
    if not path.is_file():
        return None
    figs = RegionFigures()
    longest: list[tuple[int, int, str, list]] = []  # heap of (length, -order, seq_id, regions)
    for order, (seq_id, length, rows) in enumerate(_sequences_with_regions(path, run_dir / "sequences.tsv")):
        figs.regions += len(rows)
        figs.sequences_with_regions += 1
        figs.top = heapq.nlargest(top_n, figs.top + rows, key=_region_rank)
        item = (length, -order, seq_id, [(int(r[2]), int(r[3])) for r in rows])
        (heapq.heappush if len(longest) < n_tracks else heapq.heappushpop)(longest, item)
    figs.tracks = [Track(s, n, regs) for n, _, s, regs in sorted(longest, reverse=True)]
    _fill_scores(figs.tracks, run_dir / "prediction_results.txt", chunk_size)
    return figs


def _region_rank(row: tuple) -> tuple:
    """Longest region first, then the higher mean score."""
    return int(row[4]), float(row[7])


def _sequences_with_regions(regions: Path, sequences: Path):
    """(seq_id, length, its regions.tsv rows) per sequence with regions, walking both tables in input order."""
    with open(regions) as rfh, open(sequences) as sfh:
        rfh.readline()
        sfh.readline()
        pending = rfh.readline().rstrip("\n").split("\t")
        for line in sfh:
            if pending == [""]:
                return
            seq_id, length = line.split("\t", 2)[:2]
            rows = []
            while pending[0] == seq_id and len(pending) == len(REGION_COLUMNS):
                rows.append(tuple(pending))
                pending = rfh.readline().rstrip("\n").split("\t")
            if rows:
                yield seq_id, int(length), rows


def _fill_scores(tracks: list[Track], predictions: Path, chunk_size: int) -> None:
    """Each track's best virus score per chunk, from one pass over prediction_results.txt."""
    from virnucpro.prep.chunking import chunk_bounds
    from virnucpro.models.regions import FRAME_SUFFIX

    by_id = {t.seq_id: t for t in tracks}
    best: dict[str, np.ndarray] = {}
    for t in tracks:
        _, starts, ends = chunk_bounds(np.array([t.length]), chunk_size)
        t.mid = (starts + ends) / 2
        best[t.seq_id] = np.full(len(starts), np.nan)
    if not tracks:
        return
    prefixes = tuple(f"{t.seq_id}_chunk_" for t in tracks)
    with open(predictions) as fh:
        fh.readline()
        for line in fh:
            if not line.startswith(prefixes):  # a C-speed filter: most lines belong to other sequences
                continue
            fid, _, _, s2 = line.rstrip("\n").split("\t")
            m = FRAME_SUFFIX.search(fid)
            if m is None or fid[:m.start()] not in by_id:
                continue
            arr, k = best[fid[:m.start()]], int(m.group(1)) - 1
            if k < len(arr):
                arr[k] = np.fmax(arr[k], float(s2))
    for t in tracks:
        t.score = best[t.seq_id]


def track_svg(t: Track, width: int = 900, height: int = 170) -> str:
    """Chunk score against position (at most TRACK_BINS points), regions shaded, the 0.5 line dashed."""
    f = svg.Frame(0, max(t.length, 1), 0, 1, width, height)
    shades = "".join(f'<rect x="{f.x(a - 1):.1f}" y="{f.y(1):.1f}" width="{max(f.x(b) - f.x(a - 1), 1):.1f}" '
                     f'height="{f.y(0) - f.y(1):.1f}" fill="{VERDICT_COLORS["virus"]}" fill-opacity="0.18">'
                     f'<title>region {k}: {a:,}-{b:,} ({b - a + 1:,} bp)</title></rect>'
                     for k, (a, b) in enumerate(t.regions, 1))
    x, y = _binned(t.mid, t.score, TRACK_BINS)
    points = " ".join(f"{f.x(a):.1f},{f.y(b):.1f}" for a, b in zip(x.tolist(), y.tolist()))
    half = f'<line x1="{f.x(0):.1f}" x2="{f.x(f.x1):.1f}" y1="{f.y(0.5):.1f}" y2="{f.y(0.5):.1f}" stroke="#888" ' \
           f'stroke-dasharray="4 3"/>'
    line = f'<polyline points="{points}" fill="none" stroke="#333" stroke-width="1.2"/>' if len(x) else ""
    return svg._svg(f, f"Score track of {t.seq_id}", shades, half, line,
                    svg._x_axis(f, svg.nice_ticks(0, t.length), "position (bp)", svg.fmt_count),
                    svg._y_axis(f, [0, 0.5, 1], "chunk virus score", lambda v: f"{v:g}"))


def _binned(mid: np.ndarray, score: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean score and mean position of the chunks with frames in each of `bins` equal groups of chunks."""
    keep = ~np.isnan(score)
    mid, score = mid[keep], score[keep]  # (K,)
    if len(mid) <= bins:
        return mid, score
    group = np.arange(len(mid)) * bins // len(mid)  # (K,) bin of each chunk
    n = np.bincount(group, minlength=bins)
    return np.bincount(group, mid, bins) / n, np.bincount(group, score, bins) / n


def section(figs: RegionFigures | None) -> str:
    """The report's 'Viral regions' section (a note when the run has no regions.tsv)."""
    if figs is None:
        return ('<section id="regions"><h2>Viral regions</h2><p class="note">This run has no regions.tsv (made '
                'before regions): rerun predict to get them.</p></section>')
    if not figs.regions:  # a sentence, not "the 0 longest regions" above an empty table
        return ('<section id="regions"><h2>Viral regions</h2><p class="note">No viral regions in this run: no sequence '
                'has a viral stretch as long as the minimum region length (regions.tsv holds its header only).</p>'
                '</section>')
    tracks = "".join(f'<figure><figcaption><b>{escape(_short(t.seq_id))}</b> {t.length:,} bp, {len(t.regions)} '
                     f'region(s) shaded; dashed: score 0.5.</figcaption>{track_svg(t)}</figure>' for t in figs.tracks)
    head = "".join(f'<th data-type="{"text" if k == "seq_id" else "num"}">{escape(k)}</th>' for k in REGION_COLUMNS)
    rows = "".join("<tr>" + "".join(f"<td>{escape(_short(x))}</td>" for x in r) + "</tr>" for r in figs.top)
    return (f'<section id="regions"><h2>Viral regions</h2><p class="note">{figs.regions:,} region(s) in '
            f'{figs.sequences_with_regions:,} sequence(s) (all of them are in regions.tsv). Tracks: the '
            f'{len(figs.tracks)} longest sequences with regions, each chunk\'s best virus score along the sequence.'
            f'</p>{tracks}<p class="note">The {len(figs.top)} longest regions; click a column to sort.</p>'
            f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>')


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."
