"""Kill/resume: SIGKILLed runs continue to byte-identical outputs; memory stays flat with input size."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import GOLDEN, peak_rss_mib

OUTPUTS = ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv")


def _cmd(out, model_args, *extra):
    return [sys.executable, "-m", "virnucpro", "predict", str(GOLDEN / "input.fa"), "-o", str(out),
            "--unit-frames", "24", "-q", *map(str, model_args), *extra]


def _kill_after_units(cmd, units_dir, n_units: int, timeout: float = 120) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if len(list(units_dir.glob("unit_*.tsv"))) >= n_units:
            break
        time.sleep(0.01)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()


@pytest.mark.slow  # ~17 s; test_faults.py kills, damages and resumes in the default suite
def test_killed_runs_resume_to_identical_outputs(tmp_path, model_args):
    ref, out = tmp_path / "ref", tmp_path / "out"
    subprocess.run(_cmd(ref, model_args), check=True)
    _kill_after_units(_cmd(out, model_args), out / "work_units", 0)  # killed while starting
    _kill_after_units(_cmd(out, model_args), out / "work_units", 3)
    _kill_after_units(_cmd(out, model_args), out / "work_units", 11)
    assert not (out / "prediction_results.txt").exists()
    subprocess.run(_cmd(out, model_args, "--resume"), check=True)
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert (out / "prediction_results.txt").read_text().count("\n") == 1 + 586  # nothing lost or duplicated


def test_resume_with_other_parameters_is_refused(tmp_path, model_args):
    out = tmp_path / "out"
    _kill_after_units(_cmd(out, model_args), out / "work_units", 2)
    proc = subprocess.run(_cmd(out, model_args, "--chunk-size", "300"), capture_output=True, text=True)
    assert proc.returncode == 2
    assert "different parameters" in proc.stderr and "chunk_size" in proc.stderr


@pytest.mark.slow  # ~90 s on 2 cores: 55k reads through the tiny models on the CPU
def test_peak_rss_flat_with_input_size(tmp_path, model_args):
    from virnucpro.testing.synthetic import write_reads

    peaks = []
    for n in (5_000, 50_000):
        src = tmp_path / f"r{n}.fa"
        write_reads(src, n, seed=n)
        peaks.append(peak_rss_mib("predict", src, "-o", tmp_path / f"o{n}", "-q", *model_args))
    assert peaks[1] - peaks[0] < 150, peaks
