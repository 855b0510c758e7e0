"""The report's details: values used, no literal None, dates and warnings recorded and shown, short sequences
marked, stdin named; summary.html's models, chunk size, date and axes; the training report's additions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from virnucpro.report import aggregate

TINY_SEQS = {"tiny1": "ACGTAC", "tiny2": "ATGGCGCAT"}  # 3-12 bp: one-residue "proteins"


def _info(**extra) -> dict:
    info = {"status": "complete", "input": {"path": "in.fa", "bytes": 1, "sha256": "ab"}, "counts": {},
            "seconds": {"total": 1.0}, "models": {}, "versions": {"virnucpro": "t", "torch": "2", "cuda": "13.0"},
            "parameters": {"chunk_size": 500, "unit_frames": 0, "precision": "auto", "cpu_threads": 4},
            "device": "cpu", "precision": "fp32", "plan": {"unit_frames": 256}}
    return {**info, **extra}


def _render(info: dict, figs=None) -> str:
    from virnucpro.report.page import render

    return render(info, figs or aggregate.RunFigures())


def _table(page: str, caption: str) -> str:
    start = page.index(f"<caption>{caption}</caption>")
    return page[start:page.index("</table>", start)]


def test_devices_table_shows_no_literal_none():
    page = _render(_info(devices=[{"device": "cuda:0", "name": None, "frames": 10},
                                  {"device": "cuda:1", "frames": 5, "name": "H200"}]))
    devices = _table(page, "Devices")
    assert "None" not in devices and "<td>-</td>" in devices and "H200" in devices


def test_cpu_run_does_not_show_torch_cuda_build():
    page = _render(_info())
    assert "13.0" not in _table(page, "Software") and ">None<" not in page
    gpu = _render(_info(device="cuda:0", devices=[{"device": "cuda:0"}]))
    assert "cuda (torch build)</th><td>13.0" in _table(gpu, "Software")


def test_parameters_show_the_values_used_next_to_those_requested():
    params = _table(_render(_info()), "Parameters (as used)")
    assert "256 (requested 0)" in params and "fp32 (requested auto)" in params and ">4<" in params


def test_stdin_run_is_titled_stdin_not_dash():
    page = _render(_info(input={"path": "-", "bytes": 1, "sha256": "ab"}))
    header = page[page.index("<header>"):page.index("</header>")]
    assert "stdin" in header and "<p>- " not in header


def test_page_shows_run_dates_warnings_and_explains_the_cards():
    page = _render(_info(started="2026-01-02T03:04:05+00:00", finished="2026-01-02T03:09:05+00:00",
                         warnings=["skipped 1 empty record(s) in x.fa", "<b>odd</b>"]))
    assert "started 2026-01-02T03:04:05+00:00, finished 2026-01-02T03:09:05+00:00" in page
    warnings = page[page.index('<section id="warnings">'):]
    assert "Warnings (2)" in warnings and "skipped 1 empty record(s)" in warnings and "&lt;b&gt;odd" in warnings
    assert 'title="records read from the input' in page and 'id="card-help"' in page
    assert "No warnings." in _render(_info(warnings=[]))
    assert "not recorded" in _render(_info())  # a run of an older version


def _tables(root, rows: list[tuple[str, int, float, str]]) -> None:
    """sequences.tsv (and an empty prediction table) with rows (id, length, best score, verdict)."""
    from virnucpro.pipeline.outputs import PREDICTION_HEADER, SEQUENCES_HEADER

    (root / "prediction_results.txt").write_text(PREDICTION_HEADER)
    (root / "sequences.tsv").write_text(SEQUENCES_HEADER + "".join(
        f"{i}\t{n}\t1\t1\t{int(v == 'virus')}\t{float(v == 'virus'):.4f}\t{s}\t{s}\t{v}\n" for i, n, s, v in rows))


def test_short_sequences_keep_their_verdict_but_are_marked_and_counted(tmp_path):
    rows = [("tiny1", 6, 0.99, "virus"), ("tiny2", 9, 0.98, "virus"), ("long", 3000, 0.9, "virus"),
            ("mid", 400, 0.2, "others"), ("edge", 49, 0.1, "others"), ("ok50", 50, 0.1, "others")]
    _tables(tmp_path, rows)
    figs = aggregate.collect(tmp_path / "prediction_results.txt", tmp_path / "sequences.tsv",
                             short_bp=aggregate.short_limit(500))
    assert figs.short_bp == 50 and figs.short == {"virus": 2, "others": 1} and figs.verdicts["virus"] == 3
    page = _render(_info(), figs)
    top = page[page.index('<section id="top">'):page.index("</section>", page.index('<section id="top">'))]
    marked = [r for r in re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", top) if 'data-short="1"' in r[1]]
    assert sorted(m[0] for m in marked) == ["edge", "tiny1", "tiny2"]
    assert '<td data-short="1">virus <span class="short"' in top  # the verdict stays the original's
    assert "3 sequence(s) with frames are shorter than 50 bp" in page and "2 called virus" in page


def test_heatmap_key_is_readable():
    from virnucpro.report import svg

    chart = svg.heatmap([0, 1, 2], [0, 0.5, 1], [[1, 2], [3, 400]], "x", "y", "t")
    key = chart[chart.index('class="heat-key"'):]
    assert key.count('width="22" height="12"') == len(svg.RAMP) and 'class="label">400 (log)' in key


def test_run_info_records_started_finished_and_warnings(tmp_path, run_cli, model_args):
    (tmp_path / "in.fa").write_text(">empty\n\n>a\n" + "ATG" * 200 + "\n>tiny\nACGTAC\n")
    code, _, err = run_cli("predict", tmp_path / "in.fa", "-o", tmp_path / "o", *model_args, "--device", "cpu")
    assert code == 0, err
    info = json.loads((tmp_path / "o" / "run_info.json").read_text())
    assert info["started"] <= info["finished"] and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]", info["finished"])
    assert any("empty record" in w for w in info["warnings"]) and "empty record" in err
    page = (tmp_path / "o" / "report.html").read_text()
    assert f"started {info['started']}" in page and "empty record" in page[page.index('id="warnings"'):]


def test_summary_page_names_models_chunk_size_dates_and_has_axes():
    from virnucpro.report.summary_page import render

    counts = {"records": 1, "frames": 3, "sequences_by_verdict": {"virus": 1, "others": 0, "no_frames": 0}}
    figs = aggregate.RunFigures()
    figs.frame_scores[[2, 40]] = [1, 2]
    info = {"parameters": {"chunk_size": 300}, "finished": "2026-01-02T03:09:05+00:00",
            "models": {"esm": {"ref": "esm2_t36_3B_UR50D", "sha256": {"model.pt": "cafe"}}}}
    page = render([("s1", counts, figs, info), ("s2", counts, figs)])
    assert "<td>300</td>" in page and "2026-01-02T03:09:05+00:00" in page and "made 20" in page
    models = page[page.index('id="models"'):]
    assert "esm2_t36_3B_UR50D" in models and "model.pt cafe" in models
    assert page.count(">0.5</text>") == 2 and "max 2" in page  # the small histograms' axes


def test_training_report_marks_best_epoch_and_names_class_encoders_and_classifier(tmp_path):
    from virnucpro.report.training_page import write_training_report

    epochs = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e + 0.1, "accuracy": 0.5, "f1": 0.5, "auroc": 0.5}
              for e in (1, 2, 3)]
    frames = {"records": 1, "chunks": 1, "ambiguous_chunks_dropped": 0, "frames": 6, "selection": {"a.gbk": "CDS"}}
    m = {"epochs": epochs, "final": {"accuracy": 0.7}, "frames": {"viral": frames, "other": frames},
         "stopped_early": True, "recipe": {"lr": 2e-4}, "validation_frames": 1, "chunk_size": 300, "seed": 0,
         "best_epoch": 2, "encoders": {"dnabert": {"path": "/m/dnabert", "sha256": {"config.json": "beef"}},
                                       "esm": {"path": "/m/esm", "sha256": {"model.pt": "f00d"}}}}
    page = write_training_report(tmp_path, m).read_text()
    assert page.count('class="mark"') == 2 and page.count("best epoch 2</text>") == 2
    assert "positive class: viral" in page
    assert "/m/dnabert" in page and "config.json beef" in page and "model.pt f00d" in page
    assert str(tmp_path / "classifier.safetensors") in page[page.index('id="classifier"'):]


@pytest.mark.parametrize("n", [0, 3])
def test_warnings_are_collected_for_run_info(n):
    import logging

    from virnucpro.logs import setup_logging
    from virnucpro.pipeline.run_info import mark_complete

    setup_logging(quiet=True)
    for k in range(n):
        logging.getLogger("virnucpro").warning("warning %d", k)
    info = mark_complete({"status": "running"})
    assert info["status"] == "complete" and info["warnings"] == [f"warning {k}" for k in range(n)]
    assert np.datetime64(info["finished"][:19]) <= np.datetime64("now") + np.timedelta64(1, "D")
