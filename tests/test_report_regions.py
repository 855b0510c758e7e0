"""report.html's regions section: score tracks with the regions shaded, the top-regions table, bounded size."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from virnucpro.prep.chunking import chunk_bounds
from virnucpro.pipeline.outputs import HIGHEST_HEADER, PREDICTION_HEADER, REGIONS_HEADER, SEQUENCES_HEADER
from virnucpro.report.track import REGION_COLUMNS, TOP_REGIONS, TRACK_BINS, TRACKS

CS = 300


def _run(root: Path, lengths: list[int], regions: dict[int, list[tuple[int, int]]]) -> None:
    """A finished run's tables: one frame per chunk, scored 0.95 inside the given regions and 0.05 outside."""
    root.mkdir(parents=True)
    pred, seqs, regs = [PREDICTION_HEADER], [SEQUENCES_HEADER], [REGIONS_HEADER]
    for i, n in enumerate(lengths):
        _, starts, ends = chunk_bounds(np.array([n]), CS)
        inside = np.zeros(len(starts), bool)
        for k, (a, b) in enumerate(regions.get(i, []), 1):
            inside |= (starts >= a - 1) & (ends <= b)
            regs.append(f"s{i}\t{k}\t{a}\t{b}\t{b - a + 1}\t{int(((starts >= a - 1) & (ends <= b)).sum())}\t1\t0.95\n")
        score = np.where(inside, 0.95, 0.05)
        pred += [f"s{i}_chunk_{c + 1}F1\tx\t{1 - s:g}\t{s:g}\n" for c, s in enumerate(score.tolist())]
        v = int(inside.sum())
        seqs.append(f"s{i}\t{n}\t{len(starts)}\t{len(starts)}\t{v}\t{v / len(starts):.4f}\t{score.max()}\t"
                    f"{score.mean():.6g}\t{'virus' if v / len(starts) >= 0.5 else 'others'}\n")
    (root / "prediction_results.txt").write_text("".join(pred))
    (root / "prediction_results_highestscore.csv").write_text(HIGHEST_HEADER)
    (root / "sequences.tsv").write_text("".join(seqs))
    (root / "regions.tsv").write_text("".join(regs))
    info = {"status": "complete", "parameters": {"chunk_size": CS}, "counts": {}, "seconds": {"total": 1.0},
            "input": {"path": "x.fa"}, "models": {}, "versions": {"virnucpro": "test"}}
    (root / "run_info.json").write_text(json.dumps(info))


def _section(page: str) -> str:
    return page[page.index('<section id="regions">'):page.index("</section>", page.index('<section id="regions">'))]


def test_report_tracks_show_the_longest_sequences_with_regions_shaded(tmp_path):
    from virnucpro.report.page import write_report

    lengths = [38_000, 5_000, 60_000, 12_000, 90_000, 2_000, 20_000]
    regions = {0: [(15_001, 23_000)], 1: [(1, 5_000)], 3: [(3_001, 9_000)], 4: [(1, 8_000), (70_001, 78_000)],
               6: [(12_001, 20_000)]}  # s2 (60 kb) has none: never a track
    _run(tmp_path / "r", lengths, regions)
    sec = _section(write_report(tmp_path / "r").read_text())
    titles = re.findall(r"<title>Score track of ([^<]+)</title>", sec)
    assert titles == ["s4", "s0", "s6", "s3"][:TRACKS]
    assert sec.count('fill-opacity="0.18"') == sum(len(regions[int(t[1:])]) for t in titles)
    assert "6 region(s) in 5 sequence(s)" in sec
    table = sec[sec.index('<table class="sortable">'):]
    assert [h for h in re.findall(r'<th data-type="\w+">([^<]+)</th>', table)] == list(REGION_COLUMNS)
    first = re.findall(r"<td>([^<]*)</td>", table)[:len(REGION_COLUMNS)]
    assert first[0] in ("s0", "s4", "s6") and first[4] == "8000"


def test_report_regions_section_is_bounded_and_ids_are_escaped(tmp_path):
    from virnucpro.report.page import write_report

    n = 400
    lengths = [30_000 + 300 * i for i in range(n)]
    _run(tmp_path / "r", lengths, {i: [(1, 6_000), (12_001, 18_000)] for i in range(n)})
    page_path = write_report(tmp_path / "r")
    sec = _section(page_path.read_text())
    assert sec.count("<tr>") <= TOP_REGIONS + 1 and sec.count("<polyline") == TRACKS
    assert max(len(p.split()) for p in re.findall(r'points="([^"]*)"', sec)) <= TRACK_BINS
    assert f"{2 * n:,} region(s) in {n:,} sequence(s)" in sec and page_path.stat().st_size < 200_000


def test_report_of_a_run_without_regions_tsv_says_so(tmp_path):
    from virnucpro.report.page import write_report

    _run(tmp_path / "r", [1_000], {})
    (tmp_path / "r" / "regions.tsv").unlink()
    assert "has no regions.tsv" in _section(write_report(tmp_path / "r").read_text())


@pytest.mark.slow
def test_report_track_renders_in_chromium(tmp_path):
    """Headless Chromium draws the page with its tracks; the sortable script runs to its end without errors."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no chromium: apt-get install chromium")
    from virnucpro.report.page import write_report

    _run(tmp_path / "r", [38_000, 20_000], {0: [(15_001, 23_000)], 1: [(1, 20_000)]})
    url = write_report(tmp_path / "r").resolve().as_uri()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
             "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=3000", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0 and 'data-report-ready="1"' in dom.stdout, dom.stderr[-2000:]
    assert dom.stdout.count("Score track of") == 2 and "<polyline" in dom.stdout
    for shown in ('id="run-date"', 'id="warnings"', 'class="heat-key"', 'id="card-help"', "x.fa"):
        assert shown in dom.stdout, shown  # the report's details render (an older run_info: dates not recorded)
    assert ">None<" not in dom.stdout
    assert not [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    shot = tmp_path / "track.png"
    proc = subprocess.run([*flags, "--window-size=1300,2400", f"--screenshot={shot}", url], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", proc.stderr[-2000:]
