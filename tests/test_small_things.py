"""The small things a new user met (issue 30, item 7): charts whose keys and labels sit clear of the data, zero
counts said in words, the batch budgets a run really used, help texts, extract's "parts" (a shard is a cluster
job), `virnucpro` alone, the compressed-input error. Fast: no model runs here (the runs are in other files)."""

from __future__ import annotations

import gzip
import re

import pytest

from virnucpro.report import svg


def _numbers(tag: str, attr: str) -> float:
    return float(re.search(rf'\b{attr}="([-\d.]+)"', tag).group(1))


def test_heatmap_key_sits_above_the_plot_not_on_its_top_right_cell():
    x_edges = [2.0 + k / 5 for k in range(16)]  # 100 bp .. 100 kb
    y_edges = [k / 20 for k in range(21)]
    grid = [[0] * 20 for _ in range(15)]
    grid[-1][-1] = 7  # the longest, highest-scoring bin: the cell a key in the corner would cover
    grid[0][0] = 1
    chart = svg.heatmap(x_edges, y_edges, grid, "length", "score", "t")
    key = chart[chart.index('<g class="heat-key">'):]
    key = key[:key.index("</g>")]
    key_bottom = max(_numbers(r, "y") + _numbers(r, "height") for r in re.findall(r"<rect[^>]*>", key))
    cells = re.findall(r"<rect[^>]*><title>", chart)
    assert cells and key_bottom < min(_numbers(c, "y") for c in cells)


def test_best_epoch_label_is_above_every_curve():
    xs = list(range(1, 21))
    chart = svg.lines({"auroc": (xs, [min(0.7 + 0.02 * e, 0.97) for e in xs], "#000"),
                       "f1": (xs, [0.5 + 0.02 * e for e in xs], "#111")}, "epoch", "value", "t", (15, "best epoch 15"))
    mark = chart[chart.index('<g class="mark">'):]
    label_y = _numbers(re.search(r"<text[^>]*>best epoch 15</text>", mark).group(0), "y")
    line_top = _numbers(re.search(r"<line[^>]*>", mark).group(0), "y1")
    points = [_numbers(c, "cy") for c in re.findall(r"<circle[^>]*>", chart)]
    assert label_y < line_top <= min(points)


def test_zero_counts_are_said_in_words_not_above_empty_tables():
    from virnucpro.report import aggregate, page, track

    html = page.render({"counts": {"records": 0}}, aggregate.RunFigures(short_bp=50),
                       track.section(track.RegionFigures()))
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\b0 (longest|sequences with|sequence\(s\)|region\(s\)|empty)", text), text
    assert "<tbody></tbody>" not in html and "No viral regions" in html and "no sequence kept a frame" in html
    assert "No sequence with frames is shorter than 50 bp" in html and "No empty records" in html
    assert "<svg" not in html[html.index('id="figures"'):html.index('id="top"')] and "no scores to draw" in html


@pytest.mark.parametrize("info, shown", [
    ({"devices": [{"device": "cpu", "esm_batch_tokens": 4096, "dnabert_batch_tokens": 16384}]},
     ("4,096 (requested 0)", "16,384 (requested 0)")),
    ({"merged_from": [{"devices": [{"esm_batch_tokens": 30000, "dnabert_batch_tokens": 120000}]},
                      {"devices": [{"esm_batch_tokens": 28500, "dnabert_batch_tokens": 114000}]}]},
     ("30,000 / 28,500 (requested 0)", "120,000 / 114,000 (requested 0)")),
    ({}, ("0", "0")),  # a run of an older version: what it recorded
])
def test_parameters_show_the_batch_tokens_the_devices_used(info, shown):
    from virnucpro.report.details import used_parameters

    params = used_parameters({**info, "parameters": {"esm_batch_tokens": 0, "dnabert_batch_tokens": 0}})
    assert (params["esm_batch_tokens"], params["dnabert_batch_tokens"]) == shown
    given = used_parameters({**info, "parameters": {"esm_batch_tokens": 4096, "dnabert_batch_tokens": 16384}})
    if "devices" in info:  # asked for what it used: no "(requested ...)"
        assert given["esm_batch_tokens"] == "4,096"


def test_device_record_carries_the_engine_batch_tokens():
    from virnucpro.pipeline.coordinator import DeviceStats

    stats = DeviceStats("cuda:0", batch_tokens=(30000, 120000))
    assert stats.summary()["esm_batch_tokens"] == 30000 and stats.summary()["dnabert_batch_tokens"] == 120000


def test_virnucpro_alone_prints_the_command_list(capsys):
    from virnucpro.cli import main

    assert main([]) == 0
    out, err = capsys.readouterr()
    assert "COMMAND" in out and "predict" in out and "merge" in out and "error" not in out + err


def test_extract_index_lists_parts_and_old_indexes_still_load():
    from virnucpro.pipeline.outputs import index_parts

    assert index_parts({"parts": [{"file": "unit_0000000.safetensors"}]})[0]["file"] == "unit_0000000.safetensors"
    assert index_parts({"shards": [{"file": "a"}]}) == [{"file": "a"}]  # written by earlier versions


def test_extract_help_says_part_not_shard(capsys):
    from virnucpro.cli import main

    with pytest.raises(SystemExit):
        main(["extract", "--help"])
    text = capsys.readouterr().out
    assert "shard" not in text and "part" in text


def test_finished_shard_says_merge_unless_the_workflow_merges(monkeypatch):
    from virnucpro.pipeline.assemble import _next_step
    from virnucpro.workflow.commands import WORKFLOW_ENV

    monkeypatch.delenv(WORKFLOW_ENV, raising=False)
    assert "`virnucpro merge`" in _next_step(3)
    monkeypatch.setenv(WORKFLOW_ENV, "1")
    assert "merge" in _next_step(3) and "`virnucpro merge`" not in _next_step(3)


@pytest.mark.parametrize("damage", ["cut", "garbled"])
def test_broken_gzip_error_reads_as_a_sentence(tmp_path, run_cli, damage):
    whole = gzip.compress(b"".join(b">r%d\nACGTACGTACGTACGTACGT\n" % i for i in range(20000)))
    path = tmp_path / "reads.fa.gz"
    path.write_bytes(whole[: len(whole) // 2] if damage == "cut" else whole[:10] + b"garbage" * 50 + whole[-8:])
    code, _, err = run_cli("prepare", path, "-o", tmp_path / "p")
    line = [ln for ln in err.splitlines() if "error:" in ln]
    assert code == 2 and len(line) == 1, err
    assert "at the start" not in line[0] and "; )" not in line[0] and "truncated or corrupt" in line[0], line[0]
    assert line[0].endswith("(check with `gzip -t`)")


def test_full_log_note_keeps_a_hostile_path_one_word():
    import shlex

    from virnucpro.workflow.commands import full_log_note

    assert shlex.split(full_log_note("a b;$(touch x)"))[-1] == "a b;$(touch x)/virnucpro.log"
