"""The workflow's summary of many samples: summary.tsv and summary.html (one row and one small picture each)."""

from __future__ import annotations

from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.errors import InputError
from virnucpro.report import aggregate, svg
from virnucpro.report.sample_names import RULE, is_safe_name, relative_href
from virnucpro.report.style import VERDICT_COLORS, document, verdict_legend
from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too

SUMMARY_HEADER = "sample\trecords\tvirus\tothers\tno_frames\tframes\tregions\tviral_records\n"


def write_summary(out_dir: Path, samples: list[str]) -> None:
    """OUT/summary.tsv and OUT/summary.html from each OUT/{sample}/ run (written atomically)."""
    rows = []
    for sample in samples:
        if not is_safe_name(sample):
            raise InputError(f"sample name {str(sample)[:60]!r} is not allowed: use {RULE}")
        run = Path(out_dir) / sample
        info = _checked_info(run)
        info["counts"].setdefault("regions", region_count(run))
        figs = aggregate.collect(run / "prediction_results.txt", run / "sequences.tsv")
        rows.append((sample, info["counts"], figs, info))
    write_atomic(Path(out_dir) / "summary.tsv", SUMMARY_HEADER + "".join(_tsv_row(r[0], r[1]) for r in rows))
    write_atomic(Path(out_dir) / "summary.html", render(rows))


def _checked_info(run: Path) -> dict:
    """A sample's run_info (sealed) whose tables match their recorded checksums.

    Raises:
        InputError: run_info.json is missing, edited, or a table differs from its checksum.
    """
    from virnucpro.records import load_info
    from virnucpro.report.page import verify_tables

    info = load_info(run / "run_info.json")
    if not isinstance(info.get("counts"), dict) or "sequences_by_verdict" not in info["counts"]:
        raise InputError(f"{str(run / 'run_info.json')!r} records no finished predict run: rerun the sample")
    verify_tables(run, info)
    return info


def _tsv_row(sample: str, counts: dict) -> str:
    v = counts["sequences_by_verdict"]
    return (f"{sample}\t{counts['records']}\t{v['virus']}\t{v['others']}\t{v['no_frames']}\t{counts['frames']}\t"
            f"{counts['regions']}\t{viral_records(counts)}\n")


def viral_records(counts: dict) -> int | str:
    """Records written to the run's viral.fa/viral.fq (both mates with --paired); NA when it wrote none of them
    (--no-sequences, or a run made before the sequence files)."""
    files = counts.get("sequence_files")
    if not isinstance(files, dict):
        return "NA"
    return sum(n for name, n in files.items() if name.startswith("viral"))


def region_count(run: Path) -> int | str:
    """Rows of a run's regions.tsv (for runs whose run_info.json predates the count), NA without one."""
    path = run / "regions.tsv"
    if not path.is_file():
        return "NA"
    with open(path) as fh:
        return max(sum(1 for _ in fh) - 1, 0)


def render(rows: list[tuple]) -> str:
    """The page; each row is (sample, counts, RunFigures[, run_info])."""
    head = "".join(f'<th data-type="{t}">{escape(k)}</th>' for k, t in (
        ("sample", "text"), ("records", "num"), ("virus", "num"), ("others", "num"), ("no frames", "num"),
        ("frames", "num"), ("% virus", "num"), ("viral regions", "num"), ("chunk size", "num"), ("finished", "text"),
        ("verdicts", "text"), ("frame virus scores", "text")))
    body = "".join(_row(r[0], r[1], r[2], r[3] if len(r) > 3 else {}) for r in rows)
    table = (f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
             f'<p class="note">verdicts: {verdict_legend()}; frame virus scores: x from 0 to 1, red from 0.5 (called '
             f'virus), bar height: frames (the tallest bar is labelled).</p>{_models([r[3] for r in rows if len(r) > 3])}')
    return document("virnucpro summary", f"{len(rows)} sample(s); each links to its own report; made {_today()}",
                    table, "Made by virnucpro from each sample's run_info.json and tables.")


def _today() -> str:
    from virnucpro.pipeline.run_info import now_iso

    return now_iso()


def _models(infos: list[dict]) -> str:
    """The models of the samples' runs (one table row per distinct model and sha256)."""
    seen: dict[tuple, None] = {}
    for info in infos:
        for name, m in (info.get("models") or {}).items():
            if isinstance(m, dict):
                sha = "; ".join(f"{f} {h}" for f, h in (m.get("sha256") or {}).items())
                seen[(name, str(m.get("ref") or m.get("path") or "-"), sha)] = None
    rows = "".join(f"<tr><td>{escape(n)}</td><td>{escape(r)}</td><td class='hash'>{escape(h)}</td></tr>"
                   for n, r, h in seen)
    return (f'<table class="wide" id="models"><caption>Models (sha256 of every weight file)</caption><tr><th>model</th>'
            f'<th>from</th><th>sha256</th></tr>{rows or "<tr><td colspan=3>not recorded</td></tr>"}</table>')


def _row(sample: str, counts: dict, figs: aggregate.RunFigures, info: dict) -> str:
    v = counts["sequences_by_verdict"]
    n = max(sum(v.values()), 1)
    mix = svg.stacked_bar([(k, v.get(k, 0), c) for k, c in VERDICT_COLORS.items()], width=160, height=14)
    href = relative_href(sample, "report.html")  # None for a name that must not become a link
    link = f'<a href="{escape(href)}">{escape(sample)}</a>' if href else escape(sample)
    cells = [link, f"{counts['records']:,}", f"{v['virus']:,}", f"{v['others']:,}", f"{v['no_frames']:,}",
             f"{counts['frames']:,}", f"{100 * v['virus'] / n:.1f}", _count(counts.get("regions", "-")),
             _count((info.get("parameters") or {}).get("chunk_size", "-")), escape(str(info.get("finished") or "-")),
             mix, _sparkline(figs)]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def _sparkline(figs: aggregate.RunFigures, width: int = 160, height: int = 32, axis: int = 12) -> str:
    """The frame score histogram, small, with its x axis (0, 0.5, 1) and the tallest bar's count."""
    counts = figs.frame_scores.tolist()
    top = max(max(counts, default=0), 1)
    w = width / len(counts)
    edges = aggregate.SCORE_EDGES.tolist()
    bars = "".join(f'<rect x="{k * w:.1f}" y="{height - c / top * height:.1f}" width="{w - 0.3:.1f}" '
                   f'height="{c / top * height:.1f}" fill="{VERDICT_COLORS["virus" if edges[k] >= 0.5 else "others"]}"/>'
                   for k, c in enumerate(counts) if c)
    ticks = "".join(f'<text x="{x}" y="{height + axis - 2}" text-anchor="{a}" font-size="10">{t}</text>'
                    for x, a, t in ((0, "start", "0"), (width / 2, "middle", "0.5"), (width, "end", "1")))
    peak = f'<text x="2" y="10" font-size="10" fill="#555">max {top:,}</text>'
    return (f'<svg class="spark" viewBox="0 0 {width} {height + axis}" width="{width}" height="{height + axis}" '
            f'role="img"><title>{figs.frames:,} frame virus scores</title><rect width="{width}" height="{height}" '
            f'fill="#f6f6f6"/>{bars}<line x1="0" x2="{width}" y1="{height}" y2="{height}" stroke="#888"/>{ticks}'
            f'{peak}</svg>')
