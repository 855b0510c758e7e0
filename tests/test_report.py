"""report.html: its numbers are the run's, it loads nothing, it stays small for a huge run; the Chromium render."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import one_error_line
from virnucpro.pipeline.outputs import HIGHEST_HEADER, PREDICTION_HEADER, SEQUENCES_HEADER
from virnucpro.report.aggregate import SEQUENCE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_args):
    """A predict run on 400 reads and a few multi-chunk contigs (tiny models, CPU)."""
    from virnucpro.cli import main
    from virnucpro.testing.synthetic import random_genome, write_reads

    tmp = tmp_path_factory.mktemp("report")
    write_reads(tmp / "in.fa", 400, seed=11)
    rng = np.random.default_rng(3)
    with open(tmp / "in.fa", "a") as fh:
        for k, n in enumerate((400, 700, 1200, 2500, 5000, 9000, 16000)):  # gene-rich contigs: most chunks keep frames
            fh.write(f">contig_{k}\n{random_genome(rng, n).tobytes().decode()}\n")
    assert main(["predict", str(tmp / "in.fa"), "-o", str(tmp / "out"), *map(str, tiny_model_args), "--device", "cpu",
                 "-q"]) == 0
    return tmp / "out"


def _cards(page: str) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in re.findall(r'data-key="([^"]+)"><b>([\d,]+)</b>', page)}


def _chart_counts(page: str, title: str) -> list[int]:
    """The per-bar counts of one chart (from the <title> of each bar)."""
    start = page.index(f"<title>{title}</title>")
    chart = page[start:page.index("</svg>", start)]
    return [int(c.replace(",", "")) for c in re.findall(r"<title>[^<]*: ([\d,]+)</title>", chart)]


def test_report_numbers_are_the_runs(finished_run):
    page = (finished_run / "report.html").read_text()
    info = json.loads((finished_run / "run_info.json").read_text())
    rows = [ln.split("\t") for ln in (finished_run / "sequences.tsv").read_text().splitlines()[1:]]
    frames = (finished_run / "prediction_results.txt").read_text().count("\n") - 1
    cards = _cards(page)
    c = info["counts"]
    assert cards["records"] == c["records"] and cards["chunks"] == c["chunks"] and cards["frames"] == c["frames"] == frames
    assert cards["sequences"] == len(rows)
    for verdict in ("virus", "others", "no_frames"):
        n = sum(r[-1] == verdict for r in rows)
        assert cards[f"called {verdict.replace('_', ' ')}"] == n == c["sequences_by_verdict"][verdict]
    assert sum(_chart_counts(page, "Frame virus scores")) == frames
    scored = [r for r in rows if r[-1] != "no_frames"]
    assert sum(_chart_counts(page, "Per-sequence viral fractions")) == len(scored)
    assert sum(_chart_counts(page, "Length against best virus score")) == len(scored)
    top = sorted(scored, key=lambda r: (-float(r[6]), -float(r[5]), -int(r[1])))[:25]
    table = page[page.index('<table class="sortable">'):]
    shown = re.findall(r"<tr><td>([^<]+)</td>", table[:table.index("</table>")])
    assert shown == [r[0] for r in top]
    assert f"{info['seconds']['total']:,.1f} s in all" in page
    for model in info["models"].values():
        for digest in model["sha256"].values():
            assert digest in page
    assert info["input"]["sha256"] in page
    used = info["devices"][0]  # the budgets the engine ran with (CPU defaults), shown as used
    assert (used["esm_batch_tokens"], used["dnabert_batch_tokens"]) == (4096, 16384)
    assert "4,096 (requested 0)" in page and "16,384 (requested 0)" in page


def test_outputs_read_as_the_readme_says(finished_run):
    """README "Reading the outputs": IDs, the two scores, Prediction's values, where NA appears, the percentages."""
    readme = (ROOT / "README.md").read_text()
    assert "**`score1` = P(non-viral)**" in readme and "**`score2` = P(viral)**" in readme
    rows = [ln.split("\t") for ln in (finished_run / "prediction_results.txt").read_text().splitlines()[1:]]
    chunks_with_frames = set()
    for fid, pred, s1, s2 in rows:
        m = re.fullmatch(r"(.+_chunk_\d+)([FR][123])", fid)
        assert m and pred in ("virus", "others") and (pred == "virus") == (float(s2) > float(s1)), (fid, pred)
        assert abs(float(s1) + float(s2) - 1) < 1e-6  # softmax over (others, virus)
        chunks_with_frames.add(m.group(1))
    calls = (finished_run / "prediction_results_highestscore.csv").read_text().splitlines()[1:]
    assert {c.split("\t")[0] for c in calls} == chunks_with_frames
    seqs = [ln.split("\t") for ln in (finished_run / "sequences.tsv").read_text().splitlines()[1:]]
    assert all(("NA" in r) == (r[-1] == "no_frames") for r in seqs) and any(r[-1] == "no_frames" for r in seqs)
    for name in ("prediction_results.txt", "prediction_results_highestscore.csv", "regions.tsv"):
        assert "NA" not in (finished_run / name).read_text().split()
    page = (finished_run / "report.html").read_text()
    virus = sum(r[-1] == "virus" for r in seqs)
    assert f"called virus ({100 * virus / len(seqs):.1f}%)" in page  # a share of all sequences, no-frames included


def test_report_is_self_contained(finished_run):
    page = (finished_run / "report.html").read_text()
    for ref in ("http:", "https:", "//", "src=", "@import", "url(", "<link", "<iframe"):
        assert ref not in page, ref


def test_report_command_rebuilds_it_and_a_rerun_restores_it(finished_run, run_cli, tiny_model_args, tmp_path):
    before = (finished_run / "report.html").read_bytes()
    (finished_run / "report.html").unlink()
    code, _, err = run_cli("report", finished_run, "-q")
    assert code == 0, err
    assert (finished_run / "report.html").read_bytes() == before
    (finished_run / "report.html").unlink()
    info = json.loads((finished_run / "run_info.json").read_text())
    code, _, err = run_cli("predict", finished_run.parent / "in.fa", "-o", finished_run, *tiny_model_args,
                           "--device", "cpu", "-q")  # a checked no-op that puts the lost view back
    assert code == 0, err
    assert (finished_run / "report.html").read_bytes() == before
    assert json.loads((finished_run / "run_info.json").read_text()) == info


def test_report_refuses_an_unfinished_run(tmp_path, run_cli):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run_info.json").write_text(json.dumps({"status": "running"}))
    code, _, err = run_cli("report", tmp_path / "run")
    assert code == 2 and "no finished predict run" in one_error_line(err)
    code, _, err = run_cli("report", tmp_path / "missing")
    assert code == 2 and "not a directory" in one_error_line(err)


def _synthetic_run(root: Path, n_seqs: int, seed: int = 0) -> None:
    """Tables and run_info.json of a finished run with `n_seqs` sequences (no models: only the report reads them)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    lengths = np.where(rng.random(n_seqs) < 0.9, 150, rng.integers(300, 200_000, n_seqs))
    best = rng.random(n_seqs).round(7)
    has = rng.random(n_seqs) < 0.9
    ids = [f"seq_{i}" for i in range(n_seqs)]
    ids[int(np.argmax(np.where(has, best, -1)))] = "<script>alert(1)</script>&x"  # the top row: must be escaped
    with open(root / "sequences.tsv", "w") as fh:
        fh.write(SEQUENCES_HEADER)
        for i in range(n_seqs):
            if has[i]:
                frac = 1.0 if best[i] >= 0.5 else 0.0
                fh.write(f"{ids[i]}\t{lengths[i]}\t1\t1\t{int(frac)}\t{frac:.4f}\t{best[i]}\t{best[i]:.6f}\t"
                         f"{'virus' if frac >= 0.5 else 'others'}\n")
            else:
                fh.write(f"{ids[i]}\t{lengths[i]}\t1\t0\t0\tNA\tNA\tNA\tno_frames\n")
    frames = 3 * n_seqs
    scores = rng.random(frames).astype(np.float32)
    with open(root / "prediction_results.txt", "w") as fh:
        fh.write(PREDICTION_HEADER)
        fh.writelines(f"s_{i}_chunk_1F1\tvirus\t{1 - s:.8g}\t{s:.8g}\n" for i, s in enumerate(scores.tolist()))
    (root / "prediction_results_highestscore.csv").write_text(HIGHEST_HEADER)
    verdicts = {"virus": int((has & (best >= 0.5)).sum()), "others": int((has & (best < 0.5)).sum()),
                "no_frames": int((~has).sum())}
    info = {"status": "complete", "versions": {"virnucpro": "test"}, "input": {"path": "big.fq.gz", "bytes": 1,
            "sha256": "0" * 64}, "counts": {"records": n_seqs, "empty_records_skipped": 0, "bases": int(lengths.sum()),
            "chunks": n_seqs, "frames": frames, "sequences_by_verdict": verdicts}, "seconds": {"embed": 1.0,
            "total": 1.0}, "parameters": {"chunk_size": 500}, "models": {}, "device": "cuda:0", "precision": "fp16"}
    (root / "run_info.json").write_text(json.dumps(info))


def test_report_size_is_bounded_for_a_huge_run(tmp_path):
    from virnucpro.report.page import write_report

    _synthetic_run(tmp_path / "small", 200)
    _synthetic_run(tmp_path / "huge", 400_000, seed=1)
    small = write_report(tmp_path / "small").stat().st_size
    t0 = time.perf_counter()
    page_path = write_report(tmp_path / "huge")
    seconds = time.perf_counter() - t0
    huge = page_path.stat().st_size
    print(f"report of 400,000 sequences / 1.2M frames: {huge / 1e3:.0f} kB in {seconds:.2f} s (200: {small / 1e3:.0f} kB)")
    page = page_path.read_text()
    # bounded by construction: bars and cells are bins (50 + 20 + at most 72 x 20), the table 25 rows
    assert page.count("<rect") <= 50 + 20 + 72 * 20 + 30 and page.count("<tr>") < 80
    assert huge < 600_000 and small < 60_000
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;x" in page
    assert _cards(page)["sequences"] == 400_000 and _cards(page)["frames"] == 1_200_000
    assert sum(_chart_counts(page, "Frame virus scores")) == 1_200_000


def test_report_columns_match_the_sequences_table():
    assert "\t".join(SEQUENCE_COLUMNS) + "\n" == SEQUENCES_HEADER


@pytest.mark.slow
def test_report_renders_in_chromium(finished_run, tmp_path):
    """Headless Chromium (Debian's `chromium`): the page loads, its script runs without errors, a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no chromium: apt-get install chromium")
    url = (finished_run / "report.html").resolve().as_uri()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
             "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=3000", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-report-ready="1"' in dom.stdout  # the script ran to its end
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
    info = json.loads((finished_run / "run_info.json").read_text())
    for shown in (f"started {info['started']}", 'id="card-help"', 'id="short-count"', 'id="warnings"',
                  "Parameters (as used)", 'class="heat-key"', "(requested 0)"):  # the details, as drawn
        assert shown in dom.stdout, shown
    assert ">None<" not in dom.stdout
    shot = tmp_path / "report.png"
    proc = subprocess.run([*flags, "--window-size=1300,1800", f"--screenshot={shot}", url], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and shot.stat().st_size > 20_000, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("VIRNUCPRO_SCREENSHOT"):  # the README's picture: VIRNUCPRO_SCREENSHOT=docs/report.png
        shutil.copyfile(shot, os.environ["VIRNUCPRO_SCREENSHOT"])


def test_report_of_an_empty_run_and_of_a_run_without_frames(tmp_path, run_cli, tiny_model_args):
    (tmp_path / "empty.fa").write_text("")
    (tmp_path / "nf.fa").write_text(">n1\n" + "N" * 40 + "\n>n2\n" + "N" * 25 + "\n")
    for name in ("empty", "nf"):
        code, _, err = run_cli("predict", tmp_path / f"{name}.fa", "-o", tmp_path / name, *tiny_model_args,
                               "--device", "cpu", "-q")
        assert code == 0, err
    assert _cards((tmp_path / "empty" / "report.html").read_text())["sequences"] == 0
    page = (tmp_path / "nf" / "report.html").read_text()
    assert _cards(page)["called no frames"] == 2 and "no sequence kept a frame" in page


def chromium_dom(page: Path, tmp_path: Path) -> str:
    """The DOM headless Chromium built from `page` after its script ran (skips without chromium)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no chromium: apt-get install chromium")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0 and 'data-report-ready="1"' in dom.stdout, dom.stderr[-2000:]
    assert not [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    return dom.stdout


@pytest.mark.slow
def test_summary_and_training_pages_render_their_details_in_chromium(finished_run, tmp_path):
    """summary.html (models, chunk size, date, histogram axes) and the training report (best epoch, positive
    class, encoders, classifier path) as Chromium draws them."""
    from virnucpro.report.summary_page import write_summary
    from virnucpro.report.training_page import write_training_report

    shutil.copytree(finished_run, tmp_path / "res" / "s1")
    write_summary(tmp_path / "res", ["s1"])
    dom = chromium_dom(tmp_path / "res" / "summary.html", tmp_path)
    info = json.loads((finished_run / "run_info.json").read_text())
    assert info["finished"] in dom and 'id="models"' in dom and ">0.5</text>" in dom and "max " in dom
    epochs = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "accuracy": 0.6, "f1": 0.6, "auroc": 0.7}
              for e in (1, 2, 3)]
    frames = {"records": 1, "chunks": 1, "ambiguous_chunks_dropped": 0, "frames": 6, "selection": {"a.gbk": "CDS"}}
    m = {"epochs": epochs, "final": {"accuracy": 0.7}, "frames": {"viral": frames, "other": frames},
         "stopped_early": True, "recipe": {"lr": 2e-4}, "validation_frames": 1, "chunk_size": 300, "seed": 0,
         "best_epoch": 2, "encoders": {"esm": {"path": "/m/esm", "sha256": {"model.pt": "f00d"}}}}
    (tmp_path / "t").mkdir()
    dom = chromium_dom(write_training_report(tmp_path / "t", m), tmp_path)
    assert dom.count("best epoch 2</text>") == 2 and "positive class: viral" in dom and "model.pt f00d" in dom
    assert str(tmp_path / "t" / "classifier.safetensors") in dom
