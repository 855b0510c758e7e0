"""The unit plan comes from the input alone: every shard gets work when the input allows it; a shard or a run
with nothing to compute says so and loads no model."""

from __future__ import annotations

import json

import pytest

from virnucpro.pipeline.plan import unit_frames_for


def test_unit_size_follows_the_input_within_device_bounds():
    assert unit_frames_for(0, "cpu", 3000) == 256  # ~12 units
    assert unit_frames_for(0, "cpu", 100_000) == 3328  # ~31 units
    assert unit_frames_for(0, "cpu", 10**7) == 4096
    assert unit_frames_for(0, "cuda:1", 100_000) == 32768  # GPU units hold many batches: few partly filled ones
    assert unit_frames_for(0, "cuda", 1_400_000) == 43776  # ~1M W150 reads: 32 units
    assert unit_frames_for(0, "cuda", 10**8) == 65536
    assert unit_frames_for(500, "cuda", 10**8) == 500  # --unit-frames wins
    assert unit_frames_for(0, "cpu", 0) == 256


def test_every_shard_of_a_small_input_has_work_and_merge_equals_one_run(tmp_path, run_cli, model_args, golden_dir):
    from conftest import assert_same_outputs

    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / "one", *model_args, "--device", "cpu")
    assert code == 0, err
    units = json.loads((tmp_path / "one" / "run_info.json").read_text())["plan"]["units"]
    assert units >= 3
    for i in (1, 2, 3):
        code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / f"s{i}", *model_args, "--device",
                               "cpu", "--shard", f"{i}/3")
        assert code == 0, err
        info = json.loads((tmp_path / f"s{i}" / "run_info.json").read_text())
        assert info["devices"] and info["devices"][0]["units"] >= 1  # every shard computed something
    code, _, err = run_cli("merge", *(tmp_path / f"s{i}" for i in (1, 2, 3)), "-o", tmp_path / "merged")
    assert code == 0, err
    assert_same_outputs(tmp_path / "one", tmp_path / "merged")


def _no_model_loading(monkeypatch):
    from virnucpro.pipeline import worker

    def refuse(cfg):
        raise AssertionError("models were loaded")

    monkeypatch.setattr(worker, "load_models", refuse)
    from virnucpro.pipeline import coordinator

    monkeypatch.setattr(coordinator, "load_models", refuse)


def test_a_shard_with_nothing_to_do_says_so_without_loading_models(tmp_path, run_cli, model_args, golden_dir,
                                                                    monkeypatch):
    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / "one", *model_args, "--device", "cpu")
    units = json.loads((tmp_path / "one" / "run_info.json").read_text())["plan"]["units"]
    _no_model_loading(monkeypatch)
    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / "s", *model_args, "--device", "cpu",
                           "--shard", f"{units + 1}/{units + 1}")
    assert code == 0, err
    assert f"shard {units + 1}/{units + 1} has nothing to compute" in err


@pytest.mark.parametrize("content", ["", ">empty\n\n"])
def test_an_empty_input_writes_header_only_tables_without_loading_models(tmp_path, run_cli, model_args, monkeypatch,
                                                                         content):
    src = tmp_path / "empty.fa"
    src.write_text(content)
    _no_model_loading(monkeypatch)
    code, _, err = run_cli("predict", src, "-o", tmp_path / "out", *model_args, "--device", "cpu")
    assert code == 0, err
    lines = (tmp_path / "out" / "prediction_results.txt").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Sequence_ID")
    assert json.loads((tmp_path / "out" / "run_info.json").read_text())["status"] == "complete"
