"""`virnucpro selftest`: a line per stage, the verdict and the exit code; offline; nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from virnucpro.testing import selftest
from virnucpro.testing.sandbox import sandbox

METHOD = ["models", "read", "prepare", "DNABERT-S", "ESM-2", "classifier", "predict", "tables", "regions", "report",
          "resume", "shards"]


def test_the_stages_cover_the_method_in_order():
    names = [s.name for s in selftest.STAGES]
    assert names == METHOD
    for k, stage in enumerate(selftest.STAGES):
        assert set(stage.needs) <= set(names[:k]), stage.name


def test_the_example_is_shipped_as_package_data():
    shipped = ROOT / "src" / "virnucpro" / "data" / "example.fa"
    assert shipped.read_bytes() == (ROOT / "examples" / "example.fa").read_bytes()
    assert '"data/*"' in (ROOT / "pyproject.toml").read_text()


def _ok(ctx):
    return "fine"


def _broken(ctx):
    raise ValueError("bad thing\nsecond line")


FAKE = (selftest.Stage("first", _ok), selftest.Stage("second", _broken), selftest.Stage("third", _ok, ("second",)),
        selftest.Stage("fourth", _ok, ("first",)))


def test_a_failing_stage_fails_the_verdict_and_its_dependants(run_cli, monkeypatch, tmp_path):
    monkeypatch.setattr(selftest, "STAGES", FAKE)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("selftest", "--device", "cpu")
    lines = out.splitlines()
    assert code == 1
    assert lines[1].startswith("virnucpro ") and "torch " in lines[1]
    assert any(line.strip().startswith("FP8:") for line in lines) and any("attention kernels" in x for x in lines)
    stage_lines = lines[-5:-1]
    assert stage_lines[0].startswith("first") and " ok " in stage_lines[0]
    assert stage_lines[1].startswith("second") and "FAIL  ValueError: bad thing (" in stage_lines[1]
    assert stage_lines[2].startswith("third") and "FAIL  not run: second failed" in stage_lines[2]
    assert " ok " in stage_lines[3]
    assert lines[-1].startswith("verdict: FAIL, 2 of 4 stages failed (second, third)")
    assert list(tmp_path.iterdir()) == []


def test_all_stages_ok_exits_zero(run_cli, monkeypatch):
    monkeypatch.setattr(selftest, "STAGES", FAKE[:1])
    code, out, _ = run_cli("selftest", "--device", "cpu")
    assert code == 0 and out.splitlines()[-1].startswith("verdict: ok, all 1 stages passed on cpu")


def test_sandbox_is_home_cwd_and_caches_then_gone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = os.environ.get("HOME")
    with sandbox() as root:
        assert Path.cwd() == root.resolve() or Path.cwd() == root
        assert Path(os.environ["HOME"]).is_relative_to(root) and os.environ["HF_HUB_OFFLINE"] == "1"
        assert Path(os.environ["VIRNUCPRO_HOME"]).is_relative_to(root)
        (root / "left.txt").write_text("x")
    assert not root.exists() and Path.cwd() == tmp_path and os.environ.get("HOME") == home


@pytest.mark.slow  # ~10 s of CPU (20-120 s on a busy 2-core box): the whole self-test, as a new user runs it
def test_selftest_on_cpu_offline_from_an_empty_directory(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {**os.environ, "HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("VIRNUCPRO_HOME", None)
    proc = subprocess.run([sys.executable, "-m", "virnucpro", "selftest", "--device", "cpu"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("virnucpro 0.") and lines[-1].startswith("verdict: ok, all 12 stages passed")
    for name in METHOD:
        assert any(line.startswith(f"{name} ") and " ok " in line for line in lines), name
    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == []


def test_readme_names_the_selftest_right_after_the_install_line():
    text = (ROOT / "README.md").read_text()
    install = text.index("pip install . && virnucpro predict")
    assert 0 < text.index("virnucpro selftest", install) - install < 300


def test_readme_cpu_path_says_what_to_do_behind_a_firewall_and_how_slow_it_is():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "mirror or proxy" in text and "the default build (~5.5 GB) runs on a CPU as well" in text
    assert "~12 GB of RAM" in text and "tokens/s" in text and "frames/s" in text
    for size in ("the example", "20k reads", "1M reads"):
        assert size in text
