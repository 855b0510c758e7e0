"""Compiled kernels cached beside the models: keyed folders, checked before use, damage never trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from virnucpro.engine import compile_cache as cc


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cc, "_SET_HERE", {})


def _fill(folder: Path) -> dict[str, bytes]:
    files = {"fxgraph/ab/entry1": b"graph one", "triton/0/K/kernel.cubin": b"\x7fELF cubin", "aotautograd/x/y": b"aot"}
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / "fxgraph" / "ab" / ".tmp-123").write_bytes(b"half written")  # a temporary: never listed
    return files


def test_the_folder_is_keyed_by_software_device_and_shapes() -> None:
    a = cc.folder_key("cpu", {"esm_tokens": 4096})
    assert a == cc.folder_key("cpu", {"esm_tokens": 4096})
    assert a != cc.folder_key("cpu", {"esm_tokens": 8192})
    import torch

    assert a.startswith(f"torch{torch.__version__}".replace("+", "+")) and "/" not in a


def test_inductor_and_triton_are_pointed_at_the_keyed_folder(tmp_path: Path) -> None:
    import os

    cache = cc.use_compile_cache(tmp_path / "compiled", "cpu", {"esm_tokens": 4096})
    folder = cache.folder
    assert folder.parent == tmp_path / "compiled" and folder.is_dir()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(folder)
    assert os.environ["TRITON_CACHE_DIR"] == str(folder / "triton")
    other = cc.use_compile_cache(tmp_path / "compiled", "cpu", {"esm_tokens": 8192}).folder  # ours: moved again
    assert other != folder and os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(other)


def test_a_folder_the_user_chose_is_kept(tmp_path: Path, monkeypatch) -> None:
    import os

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert cc.use_compile_cache(tmp_path / "compiled", "cpu", {}) is None
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")


def test_sealed_files_are_checked_and_a_damaged_one_is_removed(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    files = _fill(folder)
    cc.seal(folder)
    listed = json.loads((folder / cc.MANIFEST).read_text())["files"]
    assert sorted(listed) == sorted(files)
    assert sorted(cc.verify(folder)) == sorted(files)
    (folder / "triton/0/K/kernel.cubin").write_bytes(b"\x7fELF cubim")  # one flipped byte
    assert sorted(cc.verify(folder)) == ["aotautograd/x/y", "fxgraph/ab/entry1"]
    assert not (folder / "triton/0/K/kernel.cubin").exists()  # compiled again on the next use
    assert (folder / "fxgraph/ab/entry1").read_bytes() == b"graph one"


def test_a_damaged_or_edited_manifest_retires_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "compiled" / "k"
    _fill(folder)
    cc.seal(folder)
    manifest = json.loads((folder / cc.MANIFEST).read_text())
    manifest["files"]["triton/0/K/kernel.cubin"] = "0" * 64
    (folder / cc.MANIFEST).write_text(json.dumps(manifest))
    assert cc.verify(folder) == {}
    assert not folder.exists()
    assert [p.name.split(".damaged-")[0] for p in folder.parent.iterdir()] == ["k"]


def test_a_cache_that_cannot_be_made_falls_back_to_torchs_default(tmp_path: Path) -> None:
    import os

    (tmp_path / "home").write_text("a file where the model directory would be")
    assert cc.use_compile_cache(tmp_path / "home" / "compiled", "cpu", {}) is None
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ


def test_auto_compiles_only_gpu_runs_big_enough_to_earn_it_back() -> None:
    from virnucpro.engine.device_plan import COMPILE_MIN_FRAMES, compile_on
    from virnucpro.models.capabilities import CPU, HOPPER_H200

    def compiles(mode, device, frames):
        return compile_on(mode, HOPPER_H200 if device.startswith("cuda") else CPU, frames)

    assert not compiles("auto", "cuda:0", 120)  # a 20-read sample: eager
    assert compiles("auto", "cuda:0", COMPILE_MIN_FRAMES) and compiles("auto", "cuda", None)
    assert not compiles("auto", "cpu", 10**9)
    assert compiles("on", "cpu", 1) and not compiles("off", "cuda:0", 10**9)


def test_a_run_that_compiled_nothing_new_does_not_rewrite_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    _fill(folder)
    cc.seal(folder)
    before = (folder / cc.MANIFEST).stat().st_mtime_ns
    cache = cc.CompileCache(folder, cc.verify(folder))
    cache.seal()
    assert (folder / cc.MANIFEST).stat().st_mtime_ns == before
    (folder / "fxgraph" / "cd").mkdir()
    (folder / "fxgraph" / "cd" / "entry2").write_bytes(b"graph two")  # compiled by this run
    cache.seal()
    assert "fxgraph/cd/entry2" in json.loads((folder / cc.MANIFEST).read_text())["files"]
