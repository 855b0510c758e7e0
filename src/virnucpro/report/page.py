"""report.html: one self-contained page per finished run (inline CSS, SVG and a few lines of script;
it loads nothing, so it opens offline and can be mailed as one file)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from virnucpro import __version__
from virnucpro.atomic import write_atomic
from virnucpro.errors import InputError
from virnucpro.report import aggregate, details, svg, track
from virnucpro.report.style import VERDICT_COLORS, document, verdict_legend
from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too

log = logging.getLogger("virnucpro")
REPORT_NAME = "report.html"


def write_report(run_dir: Path) -> Path:
    """Read the run's run_info.json and tables, write `run_dir/report.html` atomically; returns its path.

    Raises:
        InputError: the directory holds no finished predict run.
    """
    t0 = time.perf_counter()
    info = _finished_info(run_dir)
    chunk_size = int(info.get("parameters", {}).get("chunk_size", 500))
    figs = aggregate.collect(run_dir / "prediction_results.txt", run_dir / "sequences.tsv",
                             short_bp=aggregate.short_limit(chunk_size))
    regions = track.section(track.collect(run_dir, chunk_size))
    target = run_dir / REPORT_NAME
    write_atomic(target, render(info, figs, regions))
    log.info("report: %s (%.0f kB, %.2f s)", target, target.stat().st_size / 1e3, time.perf_counter() - t0)
    return target


def _finished_info(run_dir: Path) -> dict:
    info = finished_run_info(run_dir)
    verify_tables(run_dir, info)
    return info


def finished_run_info(run_dir: Path) -> dict:
    """The run_info.json of the finished predict run in `run_dir` (its tables not yet verified).

    Raises:
        InputError: no run_info.json, an edited or unreadable one, an unfinished run or a shard.
    """
    from virnucpro.records import load_info

    path = run_dir / "run_info.json"
    info = load_info(path) if path.exists() else None  # an unreadable, non-object or edited one: InputError
    if not isinstance(info, dict) or info.get("status") != "complete" or "shard" in info:
        raise InputError(f"{str(run_dir)!r} holds no finished predict run (run_info.json missing, unfinished or a "
                         "shard): finish the run first (or merge the shards), then rerun `virnucpro report`")
    return info


def verify_tables(run_dir: Path, info: dict, names: tuple[str, ...] = (
        "prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv", "regions.tsv")) -> None:
    """Refuse tables that differ from the sha256 run_info.json recorded for them (cut short, edited, swapped).

    Raises:
        InputError: a table is missing or differs (names it).
    """
    from virnucpro.io.hashing import sha256_file

    recorded = info.get("outputs")
    if not isinstance(recorded, dict):
        return  # runs of older versions record no checksums
    for name in names:
        path = run_dir / name
        if name in recorded and (not path.is_file() or sha256_file(path) != recorded[name]):
            raise InputError(f"{str(path)!r} is missing or differs from the checksum run_info.json recorded (cut "
                             "short or edited): rerun the predict command to rebuild it")


def render(info: dict, figs: aggregate.RunFigures, regions: str = "") -> str:
    """The whole page as text; `regions` is the regions section (report.track), placed after the top table."""
    sections = [_glance(info, figs), _figures(figs), _top_table(figs), regions, details.warnings_section(info),
                _run_details(info)]
    version = escape(str(info.get("versions", {}).get("virnucpro", __version__)))
    return document("virnucpro report", f"{escape(_input_names(info))} &middot; virnucpro {version}",
                    "".join(sections), "Made by virnucpro from run_info.json, prediction_results.txt, "
                    "sequences.tsv and regions.tsv. Rebuild with <code>virnucpro report DIR</code>.")


def input_files(desc) -> list[dict]:
    """run_info's `input`: one file's record, or several under `files` (several inputs, --paired)."""
    return desc.get("files", [desc]) if isinstance(desc, dict) else []


def _input_names(info: dict) -> str:
    desc = info.get("input", {})
    names = [details.input_label(str(f.get("path", "?"))) for f in input_files(desc)]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return shown + (" (paired)" if isinstance(desc, dict) and desc.get("paired") else "")


CARD_HELP = {"records": "records read from the input (empty ones included)",
             "sequences": "rows of sequences.tsv: the non-empty records, one verdict each",
             "chunks": "pieces of at most the chunk size each sequence is cut into",
             "frames": "translated frames kept (stop-free) and scored"}


def _glance(info: dict, figs: aggregate.RunFigures) -> str:
    c = info.get("counts", {})
    v = figs.verdicts
    n = max(figs.sequences, 1)
    cards = [("records", c.get("records", 0)), ("sequences", figs.sequences), ("chunks", c.get("chunks", 0)),
             ("frames", figs.frames)]
    cards += [(f"called {k.replace('_', ' ')}", v.get(k, 0)) for k in VERDICT_COLORS]
    cells = "".join(f'<div class="card" title="{escape(CARD_HELP.get(k, ""))}" data-key="{escape(k)}"><b>{val:,}</b>'
                    f'<span>{escape(k)}{_share(val, n) if k.startswith("called") else ""}</span></div>'
                    for k, val in cards)
    mix = svg.stacked_bar([(k, v.get(k, 0), col) for k, col in VERDICT_COLORS.items()], width=480)
    total = info.get("seconds", {}).get("total", 0)
    helps = "; ".join(f"<b>{escape(k)}</b>: {escape(t)}" for k, t in CARD_HELP.items())
    return (f'<section id="glance"><h2>At a glance</h2><p class="note" id="run-date">Run {escape(details.run_dates(info))}'
            f'.</p><div class="cards">{cells}</div><p class="note" id="card-help">{helps}.</p>'
            f'<p class="mix">{mix} {verdict_legend()}</p>{_short_note(figs)}{_sequence_files(c)}<p class="note">'
            f'{_empty_skipped(c.get("empty_records_skipped", 0))}; {c.get("bases", 0):,} bp; device '
            f'{escape(details.cell(info.get("device")))}, {escape(details.cell(info.get("precision")))}; '
            f'{total:,.1f} s in all.</p></section>')


def _sequence_files(counts: dict) -> str:
    """What the run's sequence files hold (viral.fa, regions.gff3, ...), or that it wrote none."""
    files = counts.get("sequence_files")
    if not isinstance(files, dict):
        return ('<p class="note" id="sequence-files">No sequence files: the run was made with --no-sequences (or '
                'before them).</p>')
    listed = ", ".join(f"<code>{escape(name)}</code> {n:,}" for name, n in files.items())
    return (f'<p class="note" id="sequence-files">Sequence files, records each: {listed} (checksummed in '
            'run_info.json).</p>')


def _short_note(figs: aggregate.RunFigures) -> str:
    """How many sequences with frames are far shorter than the chunk size (their calls rest on a few residues)."""
    total = sum(figs.short.values())
    if not total:
        return (f'<p class="note" id="short-count">No sequence with frames is shorter than {figs.short_bp:,} bp (a tenth '
                'of the chunk size).</p>')
    by = ", ".join(f"{n:,} called {k.replace('_', ' ')}" for k, n in sorted(figs.short.items()))
    return (f'<p class="note" id="short-count">{total:,} sequence(s) with frames are shorter than {figs.short_bp:,} bp '
            f'(a tenth of the chunk size){": " + by if by else ""}; their calls rest on a few residues and are marked '
            f'<span class="short">short</span> in the tables. The verdicts keep the original\'s rule.</p>')


def _empty_skipped(n: int) -> str:
    return f"{n:,} empty record(s) skipped" if n else "No empty records"


def _share(val: int, n: int) -> str:
    return f" ({100 * val / n:.1f}%)"



def _figures(figs: aggregate.RunFigures) -> str:
    if not figs.frames:  # empty axes (and a colour key from 1 to 0) say less than a sentence
        return ('<section id="figures"><h2>Scores</h2><p class="note">No frame was kept (no chunk has a stop-free frame '
                'of whole codons, or the input is empty), so there are no scores to draw.</p></section>')
    e = aggregate.SCORE_EDGES.tolist()
    score_colors = [VERDICT_COLORS["virus"] if a >= 0.5 else VERDICT_COLORS["others"] for a in e[:-1]]
    frames = svg.histogram(e, figs.frame_scores.tolist(), "frame virus score (score2)", "frames", score_colors,
                           "Frame virus scores")
    fe = aggregate.FRACTION_EDGES.tolist()
    frac_colors = [VERDICT_COLORS["virus"] if a >= 0.5 else VERDICT_COLORS["others"] for a in fe[:-1]]
    fractions = svg.histogram(fe, figs.fractions.tolist(), "share of a sequence's chunks called viral", "sequences",
                              frac_colors, "Per-sequence viral fractions")
    lo, hi = figs.length_range()
    grid = figs.length_score[lo:hi].tolist()
    scatter = svg.heatmap(aggregate.LOG_LENGTH_EDGES[lo:hi + 1].tolist(), aggregate.BEST_SCORE_EDGES.tolist(), grid,
                          "sequence length (bp)", "best frame virus score", "Length against best virus score")
    return ('<section id="figures"><h2>Scores</h2><div class="grid">'
            f'{_figure(frames, "Frame virus scores", f"{figs.frames:,} frames; red: called virus (score2 > score1, i.e. above 0.5; a tie is others).")}'
            f'{_figure(fractions, "Viral fraction per sequence", "Sequences with at least one frame; the verdict is virus from 0.5.")}'
            f'{_figure(scatter, "Length against best virus score", "Sequences with frames, binned; colour: count (log scale).")}'
            '</div></section>')


def _figure(chart: str, title: str, caption: str) -> str:
    return f'<figure><figcaption><b>{escape(title)}</b> {escape(caption)}</figcaption>{chart}</figure>'


def _top_table(figs: aggregate.RunFigures) -> str:
    head = "".join(f'<th data-type="{"text" if k in ("seq_id", "verdict") else "num"}">{escape(k)}</th>'
                   for k in aggregate.SEQUENCE_COLUMNS)
    rows = "".join(_top_row(r, figs.short_bp) for r in figs.top)
    if not figs.top:  # a sentence, not "the 0 sequences" above an empty table
        return ('<section id="top"><h2>Top-scoring sequences</h2><p class="note">None: no sequence kept a frame, so '
                'none has a virus score (sequences.tsv calls them no_frames).</p></section>')
    return (f'<section id="top"><h2>Top-scoring sequences</h2><p class="note">The {len(figs.top)} sequences with the '
            f'highest best-frame virus score (all of them are in sequences.tsv); click a column to sort. '
            f'<span class="short">short</span>: under {figs.short_bp:,} bp.</p>'
            f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>')


def _top_row(row: tuple, short_bp: int) -> str:
    """One sequences.tsv row; a sequence under `short_bp` gets a `short` mark after its verdict."""
    cells = [f"<td>{escape(_short(x))}</td>" for x in row]
    if int(row[1]) < short_bp:
        cells[-1] = (f'<td data-short="1">{escape(row[-1])} <span class="short" title="far shorter than the chunk '
                     f'size">short</span></td>')
    return "<tr>" + "".join(cells) + "</tr>"


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _run_details(info: dict) -> str:
    seconds = [(k.replace("_", " "), float(s)) for k, s in info.get("seconds", {}).items() if k != "total" and s]
    stages = svg.hbars(seconds, "s", "Time per stage") if seconds else "<p>no timings recorded</p>"
    when = {"started": details.cell(info.get("started")), "finished": details.cell(info.get("finished"))}
    return (f'<section id="run"><h2>Run</h2><div class="grid"><figure><figcaption><b>Time per stage</b> '
            f'{info.get("seconds", {}).get("total", 0):,.1f} s in all</figcaption>{stages}</figure>'
            f'{_kv_table("Parameters (as used)", details.used_parameters(info))}</div>'
            f'{_models_table(info.get("models", {}))}{_inputs_table(info.get("input", {}))}'
            f'{details.devices_table(info.get("devices", []))}'
            f'{_kv_table("Software", details.software(info))}{_kv_table("When", when)}'
            f'<p class="note">Command: <code>{escape(_short(str(info.get("command", "")), 400))}</code></p></section>')


def _kv_table(title: str, values: dict) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in values.items())
    return f'<table class="kv"><caption>{escape(title)}</caption>{rows}</table>'


def _models_table(models: dict) -> str:
    rows = []
    for name, m in models.items():
        if not isinstance(m, dict):
            rows.append(f"<tr><td>{escape(name)}</td><td colspan=2>{escape(str(m))}</td></tr>")
            continue
        digest = "; ".join(f"{escape(f)} {escape(h)}" for f, h in (m.get("sha256") or {}).items())
        ref = m.get("ref") or m.get("path", "")
        rows.append(f"<tr><td>{escape(name)}</td><td>{escape(str(ref))}</td><td class='hash'>{digest}</td></tr>")
    return (f'<table class="wide"><caption>Models (sha256 of every weight file)</caption><tr><th>model</th>'
            f'<th>from</th><th>sha256</th></tr>{"".join(rows)}</table>')


def _inputs_table(desc: dict) -> str:
    rows = "".join(f"<tr><td>{escape(str(f.get('path', '')))}</td><td>{int(f.get('bytes', 0)):,}</td>"
                   f"<td class='hash'>{escape(str(f.get('sha256', '')))}</td></tr>" for f in input_files(desc))
    return (f'<table class="wide"><caption>Input</caption><tr><th>file</th><th>bytes</th><th>sha256</th></tr>'
            f'{rows}</table>')
