"""predict under the faults a cluster user meets: pipes, concurrent runs, damaged units, signals, bad paths.

Each test asserts the exit code, the single error line and what is left on disk. Pipes, locks and
signals are exercised with real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import GOLDEN
from conftest import assert_same_outputs as _same_outputs
from conftest import one_error_line as _error_line
from conftest import wait_for as _wait_for

UNIT_FRAMES = "64"




def _cmd(src, out, model_args, *extra) -> list[str]:
    return [sys.executable, "-m", "virnucpro", "predict", str(src), "-o", str(out), "--unit-frames", UNIT_FRAMES,
            *map(str, model_args), *map(str, extra)]




def _leftovers(root: Path) -> list[str]:
    """Temporaries, spools and merge folders that no finished or failed run may leave."""
    return [str(p) for p in root.rglob("*") if ".tmp-" in p.name or p.name.startswith((".merge-", ".input.spool"))]


@pytest.fixture(scope="module")
def reads(reads_3k):
    return reads_3k


@pytest.fixture(scope="module")
def reference(reads, tiny_model_args, tmp_path_factory):
    """predict on the reads, uninterrupted, in this process."""
    out = tmp_path_factory.mktemp("ref") / "out"
    _resume_in_process(reads, out, tiny_model_args)
    return out




def _units(out: Path) -> int:
    return len(list((out / "work_units").glob("unit_*.tsv")))


# ---- pipes ----

@pytest.fixture(scope="module")
def golden_reference(tiny_model_args, tmp_path_factory):
    """predict on the golden input, uninterrupted (the outputs every faulty run must reproduce)."""
    out = tmp_path_factory.mktemp("golden_ref") / "out"
    _resume_in_process(GOLDEN / "input.fa", out, tiny_model_args)
    return out


@pytest.mark.parametrize("how", ["process_substitution", "dev_stdin", "fifo", pytest.param("dash", marks=pytest.mark.slow)])
def test_piped_input_read_once_same_outputs(how, golden_reference, tmp_path, model_args):
    ref = golden_reference
    src = GOLDEN / "input.fa"
    out = tmp_path / "out"
    cmd = " ".join(f"'{c}'" for c in _cmd("INPUT", out, model_args, "-q"))
    if how == "process_substitution":
        script = cmd.replace("'INPUT'", f"<(cat '{src}')")
    elif how == "dev_stdin":
        script = f"cat '{src}' | " + cmd.replace("'INPUT'", "/dev/stdin")
    elif how == "dash":
        script = f"cat '{src}' | " + cmd.replace("'INPUT'", "-")
    else:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        script = f"cat '{src}' > '{fifo}' & " + cmd.replace("'INPUT'", f"'{fifo}'")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _same_outputs(ref, out)
    info = json.loads((out / "run_info.json").read_text())
    assert info["input"]["sha256"] == json.loads((ref / "run_info.json").read_text())["input"]["sha256"]
    assert _leftovers(out) == []


# ---- one writer per directory ----

def test_second_run_on_a_busy_directory_is_refused(reads, reference, tmp_path, model_args):
    out = tmp_path / "out"
    first = subprocess.Popen(_cmd(reads, out, model_args, "-q"), stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "run_info.json").exists() or first.poll() is not None)
        t0 = time.time()
        second = subprocess.run(_cmd(reads, out, model_args), capture_output=True, text=True, timeout=60)
        line = _error_line(second.stderr)
        assert second.returncode == 2 and f"pid {first.pid}" in line and "host" in line and "another -o" in line
        assert time.time() - t0 < 30
    finally:
        assert first.wait(timeout=120) == 0, first.stderr.read()
    _same_outputs(reference, out)


@pytest.mark.slow
def test_sigkilled_holder_leaves_no_stale_lock(reads, reference, tmp_path, model_args):
    out = tmp_path / "out"
    proc = subprocess.Popen(_cmd(reads, out, model_args, "-q"))
    _wait_for(lambda: _units(out) >= 2 or proc.poll() is not None)
    proc.kill()
    proc.wait()
    assert (out / ".virnucpro.lock").exists()  # the file stays; the kernel dropped the lock
    subprocess.run(_cmd(reads, out, model_args, "-q"), check=True, timeout=120)
    _same_outputs(reference, out)


# ---- damaged work units ----

def _crashed_run(out: Path, run_cli, model_args, monkeypatch) -> None:
    """A run that committed every unit and died before assembly, as after a SIGKILL there."""
    from virnucpro.errors import Stopped

    def die(*_args, **_kwargs):
        raise Stopped("SIGKILL", 137)

    with monkeypatch.context() as m:
        m.setattr("virnucpro.pipeline.run.finish", die)
        assert run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", UNIT_FRAMES, *model_args)[0] == 137


def _damage(units_dir: Path, how: str) -> None:
    units = sorted(units_dir.glob("unit_*.tsv"))
    victim, data = units[1], units[1].read_bytes()
    if how == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif how == "truncate_footer":
        victim.write_bytes(data[:-10])
    elif how == "empty":
        victim.write_bytes(b"")
    elif how == "delete":
        victim.unlink()
    elif how == "edit_score":
        edited = bytearray(data)
        edited[data.index(b"\t0.") + 3] ^= 1  # one digit of one score: '0' <-> '1', '2' <-> '3', ...
        victim.write_bytes(bytes(edited))
    elif how == "drop_row":  # a row removed and the footer rewritten to match: a well-formed file, one row short
        import hashlib

        lines = data.splitlines(keepends=True)
        body = b"".join(lines[1:-1])
        fields = lines[-1].decode().rstrip("\n").split("\t")
        fields[1], fields[-1] = str(int(fields[1]) - 1), hashlib.sha256(body).hexdigest()
        victim.write_bytes(body + ("\t".join(fields) + "\n").encode())
    elif how == "swap":
        victim.write_bytes(units[0].read_bytes())
    elif how == "fabricate":  # a unit file no plan asks for
        (units_dir / "unit_9999999.tsv").write_bytes(data)
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("damage", ["truncate", "truncate_footer", "empty", "delete", "edit_score", "drop_row",
                                    "swap", "fabricate"])
def test_damaged_units_are_recomputed(damage, golden_reference, tmp_path, run_cli, model_args, monkeypatch):
    out = tmp_path / "out"
    _crashed_run(out, run_cli, model_args, monkeypatch)
    _damage(out / "work_units", damage)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", UNIT_FRAMES, *model_args)
    assert code == 0, err
    if damage not in ("delete", "fabricate"):
        assert "work unit 1 is damaged" in err
    _same_outputs(golden_reference, out)
    assert not (out / "work_units").exists()


def test_killed_at_a_random_point_then_damaged_resumes_exactly(reads, reference, tmp_path, model_args):
    _kill_damage_resume(reads, reference, tmp_path, model_args, seed=0)


@pytest.mark.slow
def test_kill_damage_resume_many_times(reads, reference, tmp_path, model_args):
    for seed in range(1, 9):
        _kill_damage_resume(reads, reference, tmp_path / str(seed), model_args, seed)


def _kill_damage_resume(reads, reference, tmp_path, model_args, seed: int) -> None:
    """SIGKILL after a random delay (up to twice), damage a random committed unit, resume: identical outputs."""
    import random

    rng = random.Random(seed)
    out = tmp_path / "out"
    for _ in range(1 + (seed > 0)):
        proc = subprocess.Popen(_cmd(reads, out, model_args, "-q"))
        _wait_for(lambda: (out / "run_info.json").exists() or proc.poll() is not None)
        time.sleep(rng.uniform(0, 2.5))
        proc.kill()
        proc.wait()
    units = sorted((out / "work_units").glob("unit_*.tsv")) if (out / "work_units").exists() else []
    if units:
        victim = rng.choice(units)
        data = victim.read_bytes()
        victim.write_bytes(data[: rng.randrange(len(data))])
    _resume_in_process(reads, out, model_args)
    _same_outputs(reference, out)


def _resume_in_process(src, out, model_args) -> None:
    """The same command again, in this process (saves a torch import per test)."""
    from virnucpro.cli import main

    assert main(_cmd(src, out, model_args, "-q")[3:]) == 0


def test_assembly_refuses_tables_that_miss_rows(tmp_path, run_cli, model_args, monkeypatch):
    """If a unit still lost rows after verification, the run is not marked complete."""
    from virnucpro.pipeline import workunits

    real = workunits.assemble

    def lossy(units, pred, high, seqs):
        counts = real(units, pred, high, seqs)
        counts["prediction_rows"] -= 1
        return counts

    monkeypatch.setattr("virnucpro.pipeline.assemble.assemble", lossy)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", *model_args)
    assert code == 3 and "do not account for the input" in _error_line(err)
    assert json.loads((tmp_path / "o" / "run_info.json").read_text())["status"] == "running"
    assert not (tmp_path / "o" / "prediction_results.txt").exists()


# ---- signals ----

@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_signal_stops_cleanly_and_resumes(sig, reads, reference, tmp_path, model_args):
    out = tmp_path / "out"
    proc = subprocess.Popen(_cmd(reads, out, model_args, "-q"), stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _units(out) >= 2 or proc.poll() is not None)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {sig.name}" in err and "run the same command again to resume" in err and "Traceback" not in err
    assert _leftovers(out) == [] and _units(out) >= 2
    assert not (out / "prediction_results.txt").exists()
    _resume_in_process(reads, out, model_args)
    _same_outputs(reference, out)
