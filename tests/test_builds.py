"""Mixed builds: resume and merge compare the recorded build (virnucpro, torch, CUDA/cuDNN, device) and refuse
another one in one line naming both."""

from __future__ import annotations

import json

import pytest

from conftest import GOLDEN
from conftest import one_error_line as _error_line
from virnucpro.pipeline.build import BUILD_FIELDS, build_difference, build_record
from virnucpro.pipeline.run_info import write_info


@pytest.fixture(scope="module")
def small_input(tmp_path_factory):
    """12 records of the golden input (0.6-1 kb, coding, reverse coding and random): several units of 8 frames."""
    path = tmp_path_factory.mktemp("in") / "small.fa"
    path.write_text(">" + ">".join((GOLDEN / "input.fa").read_text().split(">")[46:58]))
    return path


def _predict(run_cli, src, out, model_args, *extra):
    return run_cli("predict", src, "-o", out, "--unit-frames", 8, "-q", *model_args, *extra)


def _edit_build(run_dir, status: str | None = None, **fields) -> dict:
    """Rewrite a run record as another build would have sealed it."""
    info = json.loads((run_dir / "run_info.json").read_text())
    info["build"].update(fields)
    if status:
        info["status"] = status
    write_info(run_dir / "run_info.json", info)
    return info["build"]


def test_build_record_and_difference():
    import torch

    cpu = build_record(["cpu"])
    assert cpu["torch"] == torch.__version__ and cpu["device"].startswith("cpu (") and "cuda" not in cpu
    assert build_difference(cpu, dict(cpu)) is None
    other = {**cpu, "torch": "2.14.0+cpu", "device": "cpu (AVX2)"}
    assert build_difference(cpu, other) == f"torch {torch.__version__} then, 2.14.0+cpu now"  # the first field
    assert "virnucpro" in build_difference(None, cpu) and "older virnucpro" in build_difference(None, cpu)
    assert set(cpu) <= set(BUILD_FIELDS)


@pytest.fixture(scope="module")
def shards_once(tmp_path_factory, small_input, tiny_model_args):
    from virnucpro.cli import main

    root = tmp_path_factory.mktemp("shards")
    for i in (1, 2):
        assert main([str(a) for a in ("predict", small_input, "-o", root / f"s{i}", "--unit-frames", 8, "-q",
                                      *tiny_model_args, "--shard", f"{i}/2")]) == 0
    return root


@pytest.fixture
def two_shards(shards_once, tmp_path):
    import shutil

    return [shutil.copytree(shards_once / f"s{i}", tmp_path / f"s{i}") for i in (1, 2)]


def test_merge_refuses_shards_of_another_torch_or_device_naming_both(two_shards, tmp_path, run_cli):
    import torch

    _edit_build(two_shards[1], torch="2.14.0+cpu")
    code, _, err = run_cli("merge", *two_shards, "-o", tmp_path / "m")
    line = _error_line(err)
    assert code == 2 and f"torch {torch.__version__} in 1/2, 2.14.0+cpu in 2/2" in line, err
    assert "another build" in line and not (tmp_path / "m").exists()
    _edit_build(two_shards[1], torch=torch.__version__, device="NVIDIA H100 80GB HBM3 (sm_90)")
    code, _, err = run_cli("merge", *two_shards, "-o", tmp_path / "m")
    assert code == 2 and "NVIDIA H100 80GB HBM3 (sm_90) in 2/2" in _error_line(err), err


def test_merge_refuses_shards_of_another_virnucpro(two_shards, tmp_path, run_cli):
    from virnucpro import __version__

    for d in two_shards:
        _edit_build(d, virnucpro="0.0.9")
    code, _, err = run_cli("merge", *two_shards, "-o", tmp_path / "m")
    line = _error_line(err)
    assert code == 2 and "virnucpro 0.0.9" in line and f"virnucpro {__version__}" in line, err
    assert not (tmp_path / "m").exists()


def test_merged_run_records_the_shards_build(two_shards, tmp_path, run_cli):
    code, _, err = run_cli("merge", *two_shards, "-o", tmp_path / "m", "-q")
    assert code == 0, err
    merged = json.loads((tmp_path / "m" / "run_info.json").read_text())
    assert merged["build"] == json.loads((two_shards[0] / "run_info.json").read_text())["build"] == build_record(["cpu"])


def test_resume_and_rerun_refuse_another_build(tmp_path, run_cli, model_args, small_input):
    out = tmp_path / "o"
    code, _, err = _predict(run_cli, small_input, out, model_args, "--keep-intermediate")
    assert code == 0, err
    mine = build_record(["cpu"])
    _edit_build(out, status="running", device="cpu (AVX2)")  # committed units of an AVX2 machine, unfinished
    code, _, err = _predict(run_cli, small_input, out, model_args, "--keep-intermediate")
    line = _error_line(err)
    assert code == 2 and f"device cpu (AVX2) then, {mine['device']} now" in line and "unfinished" in line, err
    _edit_build(out, status="complete", torch="2.14.0+cpu", device=mine["device"])
    code, _, err = _predict(run_cli, small_input, out, model_args, "--keep-intermediate")
    line = _error_line(err)
    assert code == 2 and f"torch 2.14.0+cpu then, {mine['torch']} now" in line and "finished" in line, err
    assert "--force" in line


def test_train_feature_cache_is_keyed_by_the_build():
    from virnucpro.commands.train import _cache_key

    enc = {"dnabert": {"sha256": "a"}, "esm": {"sha256": "b"}}
    cpu = build_record(["cpu"])
    assert _cache_key("x", enc, 300, "auto", cpu) == _cache_key("x", enc, 300, "auto", dict(cpu))
    assert _cache_key("x", enc, 300, "auto", cpu) != _cache_key("x", enc, 300, "auto", {**cpu, "torch": "2.14.0"})
