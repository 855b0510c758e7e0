"""Identical runs write identical bytes (safetensors metadata included), and --keep-intermediate is a run
parameter: a resume or rerun with another value is refused like any other parameter."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import GOLDEN
from conftest import one_error_line as _error_line
from virnucpro.pipeline.run_info import write_info


@pytest.fixture(scope="module")
def small_input(tmp_path_factory):
    """12 records of the golden input (0.6-1 kb, coding, reverse coding and random): several units of 8 frames."""
    path = tmp_path_factory.mktemp("in") / "small.fa"
    path.write_text(">" + ">".join((GOLDEN / "input.fa").read_text().split(">")[46:58]))
    return path


def test_sealed_files_are_the_same_bytes_whatever_the_metadata_order(tmp_path):
    from safetensors import safe_open

    from virnucpro.sealed import load_sealed, save_sealed

    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor(3), "h": torch.ones(2).half()}
    meta = {f"k{i}": json.dumps([f"id{i}", "é\n\t\x01"]) for i in range(10)}
    save_sealed(tmp_path / "a.safetensors", tensors, meta)
    save_sealed(tmp_path / "b.safetensors", dict(reversed(tensors.items())), dict(reversed(meta.items())))
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    got, got_meta = load_sealed(tmp_path / "a.safetensors")
    assert all(torch.equal(got[k], tensors[k]) for k in tensors) and {**meta, "sha256": got_meta["sha256"]} == got_meta
    with safe_open(str(tmp_path / "a.safetensors"), "pt") as st:
        assert st.metadata() == got_meta  # readable by safetensors itself
    data = (tmp_path / "a.safetensors").read_bytes()
    keys = list(json.loads(data[8:8 + int.from_bytes(data[:8], "little")])["__metadata__"])
    assert keys == sorted(keys)


def test_two_identical_extract_runs_write_the_same_bytes(tmp_path, run_cli, model_args, small_input):
    args = [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    for d in ("a", "b"):
        code, _, err = run_cli("extract", small_input, "-o", tmp_path / d, *args, "--device", "cpu", "--unit-frames",
                               8, "-q")
        assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "a" / "embeddings").iterdir())
    assert len(files) > 3 and files == sorted(p.name for p in (tmp_path / "b" / "embeddings").iterdir())
    for name in files:
        assert (tmp_path / "a" / "embeddings" / name).read_bytes() == (tmp_path / "b" / "embeddings" / name).read_bytes()


def _predict(run_cli, src, out, model_args, *extra):
    return run_cli("predict", src, "-o", out, "--unit-frames", 8, "-q", *model_args, *extra)


def _set_status(run_dir, status: str) -> None:
    info = json.loads((run_dir / "run_info.json").read_text())
    info["status"] = status
    write_info(run_dir / "run_info.json", info)


def test_keep_intermediate_is_a_run_parameter(tmp_path, run_cli, model_args, small_input):
    kept = tmp_path / "kept"
    code, _, err = _predict(run_cli, small_input, kept, model_args, "--keep-intermediate")
    assert code == 0 and any((kept / "embeddings").glob("unit_*.safetensors")), err
    assert json.loads((kept / "run_info.json").read_text())["parameters"]["keep_intermediate"] is True
    _set_status(kept, "running")  # an unfinished run with committed units and embeddings
    code, _, err = _predict(run_cli, small_input, kept, model_args)
    line = _error_line(err)
    assert code == 2 and "unfinished" in line and "keep_intermediate: True then, False now" in line, err

    plain = tmp_path / "plain"
    assert _predict(run_cli, small_input, plain, model_args)[0] == 0
    code, _, err = _predict(run_cli, small_input, plain, model_args, "--keep-intermediate")  # finished, asked for more
    line = _error_line(err)
    assert code == 2 and "finished" in line and "keep_intermediate: False then, True now" in line, err
    assert not (plain / "embeddings").exists()
    code, _, err = _predict(run_cli, small_input, plain, model_args, "--keep-intermediate", "--force")
    assert code == 0 and any((plain / "embeddings").glob("unit_*.safetensors")), err
    for p in (kept / "embeddings").iterdir():
        assert (plain / "embeddings" / p.name).read_bytes() == p.read_bytes(), p.name  # identical runs, same bytes
