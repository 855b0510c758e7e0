"""`predict --shard I/N` + `merge` == one predict run, byte for byte; merge refuses what does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import GOLDEN, OUTPUTS
from conftest import one_error_line as _error_line



def _predict(run_cli, src, out, model_args, *extra) -> None:
    code, _, err = run_cli("predict", src, "-o", out, "--unit-frames", 48, "-q", *model_args, *extra)
    assert code == 0, err


def _shards(run_cli, src, root: Path, model_args, n: int, *extra) -> list[Path]:
    dirs = [root / f"shard{i}" for i in range(1, n + 1)]
    for i, d in enumerate(dirs, 1):
        _predict(run_cli, src, d, model_args, "--shard", f"{i}/{n}", *extra)
    return dirs




@pytest.mark.parametrize("which,n", [("contigs", 1), ("contigs", 2), ("contigs", 3), ("reads", 3)])
def test_merged_shards_equal_one_run(which, n, tmp_path, run_cli, model_args):
    from virnucpro.testing.synthetic import write_reads

    src = GOLDEN / "input.fa"  # contigs up to ~2 kb: several chunks per record
    if which == "reads":
        src = tmp_path / "reads.fa"
        write_reads(src, 800, seed=5)
    _predict(run_cli, src, tmp_path / "one", model_args)
    dirs = _shards(run_cli, src, tmp_path, model_args, n)
    code, _, err = run_cli("merge", *dirs, "-o", tmp_path / "merged", "-q")
    assert code == 0, err
    for name in OUTPUTS:
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    info = json.loads((tmp_path / "merged" / "run_info.json").read_text())
    assert info["status"] == "complete" and len(info["merged_from"]) == n and "shard" not in info["parameters"]
    assert sum(len(json.loads((d / "run_info.json").read_text())["shard"]["units"]) for d in dirs) == len(
        json.loads((dirs[0] / "run_info.json").read_text())["plan"])


@pytest.fixture
def three_shards(tmp_path, run_cli, model_args):
    return _shards(run_cli, GOLDEN / "input.fa", tmp_path, model_args, 3)


def test_merge_refuses_a_missing_shard(three_shards, tmp_path, run_cli):
    code, _, err = run_cli("merge", three_shards[0], three_shards[2], "-o", tmp_path / "m")
    assert code == 2 and "shard 2/3 is missing" in _error_line(err) and not (tmp_path / "m").exists()


def test_merge_refuses_a_duplicated_shard(three_shards, tmp_path, run_cli):
    code, _, err = run_cli("merge", *three_shards, three_shards[1], "-o", tmp_path / "m")
    assert code == 2 and "shard 2/3 is given twice" in _error_line(err) and not (tmp_path / "m").exists()


def test_merge_refuses_a_foreign_shard(three_shards, tmp_path, run_cli, model_args):
    other = tmp_path / "other.fa"
    other.write_text((GOLDEN / "input.fa").read_text().replace(">", ">x", 1))
    foreign = tmp_path / "foreign2"
    _predict(run_cli, other, foreign, model_args, "--shard", "2/3")
    code, _, err = run_cli("merge", three_shards[0], foreign, three_shards[2], "-o", tmp_path / "m")
    line = _error_line(err)
    assert code == 2 and "shard 2/3" in line and "another run" in line and "foreign2" in line
    assert not (tmp_path / "m").exists()


def test_merge_refuses_a_damaged_or_unfinished_shard(three_shards, tmp_path, run_cli):
    unit = sorted((three_shards[1] / "work_units").glob("unit_*.tsv"))[0]
    unit.write_bytes(unit.read_bytes()[:-20])
    code, _, err = run_cli("merge", *three_shards, "-o", tmp_path / "m")
    assert code == 2 and "shard 2/3" in _error_line(err) and "damaged" in err and not (tmp_path / "m").exists()
    info = json.loads((three_shards[2] / "run_info.json").read_text())
    info["status"] = "running"
    from virnucpro.pipeline.run_info import write_info

    write_info(three_shards[2] / "run_info.json", info)  # an unfinished shard (re-sealed: an edit is refused)
    code, _, err = run_cli("merge", three_shards[0], three_shards[2], three_shards[1], "-o", tmp_path / "m")
    assert code == 2 and "shard 3/3" in _error_line(err) and "not finished" in err


def test_a_finished_shard_reruns_as_a_no_op(three_shards, run_cli, model_args):
    before = (three_shards[0] / "run_info.json").read_bytes()
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", three_shards[0], "--unit-frames", 48, *model_args,
                           "--shard", "1/3")
    assert code == 0 and "already holds this run's results" in err
    assert (three_shards[0] / "run_info.json").read_bytes() == before


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "a/b", "2"])
def test_bad_shard_spec_rejected_while_parsing(spec, tmp_path, run_cli):
    with pytest.raises(SystemExit) as exc:
        run_cli("predict", "x.fa", "-o", tmp_path / "o", "--shard", spec)
    assert exc.value.code == 2 and not (tmp_path / "o").exists()
