"""regions.tsv in the pipeline: written with the tables, checksummed, part of the run's parameters (resume and
merge keep one --min-region-length), rebuilt when damaged."""

from __future__ import annotations

import json

import pytest

from conftest import GOLDEN, one_error_line
from virnucpro.pipeline.outputs import REGIONS_HEADER


def _predict(run_cli, out, model_args, *extra):
    return run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", 48, "-q", *model_args, *extra)


def test_regions_tsv_is_written_checksummed_and_counted(tmp_path, run_cli, model_args):
    from virnucpro.io.hashing import sha256_file

    code, _, err = _predict(run_cli, tmp_path / "o", model_args, "--min-region-length", 1)
    assert code == 0, err
    regions = tmp_path / "o" / "regions.tsv"
    lines = regions.read_text().splitlines(keepends=True)
    assert lines[0] == REGIONS_HEADER
    info = json.loads((tmp_path / "o" / "run_info.json").read_text())
    assert info["outputs"]["regions.tsv"] == sha256_file(regions) and info["counts"]["regions"] == len(lines) - 1
    assert info["parameters"]["min_region_length"] == 1
    lengths = {ln.split("\t")[0]: int(ln.split("\t")[1]) for ln in
               (tmp_path / "o" / "sequences.tsv").read_text().splitlines()[1:]}
    for ln in lines[1:]:
        seq, k, a, b, n, *_ = ln.split("\t")
        assert 1 <= int(a) <= int(b) <= lengths[seq] and int(n) == int(b) - int(a) + 1


@pytest.mark.slow
def test_a_damaged_regions_tsv_is_recomputed_and_another_length_is_refused(tmp_path, run_cli, model_args):
    out = tmp_path / "o"
    assert _predict(run_cli, out, model_args, "--min-region-length", 1)[0] == 0
    good = (out / "regions.tsv").read_bytes()
    (out / "regions.tsv").write_bytes(good[:len(REGIONS_HEADER)])  # rows lost: the checksum no longer matches
    code, _, err = _predict(run_cli, out, model_args, "--min-region-length", 1)
    assert code == 0 and (out / "regions.tsv").read_bytes() == good, err
    code, _, err = _predict(run_cli, out, model_args, "--min-region-length", 2000)
    assert code == 2 and "min_region_length" in one_error_line(err)


@pytest.mark.slow
def test_merge_keeps_the_shards_min_region_length(tmp_path, run_cli, model_args):
    for i in (1, 2):
        assert _predict(run_cli, tmp_path / f"s{i}", model_args, "--shard", f"{i}/2", "--min-region-length", 1)[0] == 0
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "m", "--min-region-length",
                           "500")
    assert code == 2 and "--min-region-length 500" in one_error_line(err) and not (tmp_path / "m").exists()
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "m", "--min-region-length", "1")
    assert code == 0, err
    assert _predict(run_cli, tmp_path / "other2", model_args, "--shard", "2/2")[0] == 0  # the default length
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "other2", "-o", tmp_path / "m2")
    assert code == 2 and "different parameters" in one_error_line(err)
