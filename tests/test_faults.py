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


# ---- input content ----

@pytest.mark.parametrize("content,needles", [
    (b">a\nACGT\n>b desc\nACGTAC\nAC\x00GT\n", ["line 5", "record 2", "'b'", "\\x00", "sequence"]),
    (b">a\nACGT\n>b\nAC\x1bGT\n", ["line 4", "record 2", "\\x1b"]),
    (b">a\nACGT\n>\nACGTT\n", ["line 3", "record 2", "no ID"]),
    (b"".join(b">r%d\nACGTACGT\n" % i for i in range(150)) + b">r150 \xff\xfe\nACGT\n", ["line 301", "record 151",
                                                                                        "ASCII"]),
    (b">p1\nMKVLAAGIIQEFPLLLSSRRWWEEKKPPGGHHILMFYWV\n>p2\nMSTNPKPQRKTKRNTNRRPQDVKFPGG\n", ["protein", "'p1'"]),
], ids=["nul", "escape", "empty_id", "non_utf8_header_151", "protein"])
def test_bad_content_names_record_and_line(content, needles, tmp_path, run_cli, model_args):
    src = tmp_path / "in.fa"
    src.write_bytes(content)
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args)
    line = _error_line(err)
    assert code == 2
    for n in needles:
        assert n in line, line
    assert not (tmp_path / "o").exists()  # nothing claimed, nothing left


def test_empty_input_warns_and_writes_headers(tmp_path, run_cli, model_args):
    code, _, err = run_cli("predict", "/dev/null", "-o", tmp_path / "o", *model_args)
    assert code == 0 and "no sequences" in err
    assert (tmp_path / "o" / "sequences.tsv").read_text().count("\n") == 1
    assert _leftovers(tmp_path / "o") == []


def test_duplicate_id_error_is_short(tmp_path, run_cli, model_args):
    deep = tmp_path / ("d" * 100) / ("e" * 100)
    deep.mkdir(parents=True)
    src = deep / "reads.fq"
    src.write_text("@r1 1:N:0\nACGT\n+\nIIII\n@r1 2:N:0\nACGT\n+\nIIII\n")
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args)
    assert code == 2 and "duplicate sequence ID 'r1'" in _error_line(err)


# ---- arguments and paths ----

@pytest.mark.parametrize("device", ["foo", "meta", "gpu", "cuda:x"])
def test_bad_device_rejected_before_anything_is_written(device, tmp_path, run_cli, model_args):
    with pytest.raises(SystemExit) as exc:
        run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--device", device, *model_args)
    assert exc.value.code == 2 and not (tmp_path / "o").exists()


def test_threads_bounded_to_available_cores(tmp_path, run_cli, model_args):
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--threads", "10000", *model_args)
    assert code == 0 and "--threads 10000 is more than the" in err


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_output_dir_is_a_file(where, tmp_path, run_cli, model_args):
    f = tmp_path / "f"
    f.write_text("keep me")
    target = f if where == "file" else f / "sub"
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", target, *model_args)
    assert code == 2 and "choose a directory" in _error_line(err)
    assert f.read_text() == "keep me"


def test_model_that_fails_to_load_does_not_block_the_fixed_rerun(tmp_path, run_cli, tiny_models):
    import shutil

    esm = tmp_path / "esm"
    shutil.copytree(tiny_models.esm_dir, esm)
    weights = next(p for p in esm.iterdir() if p.name.startswith(("model.", "pytorch_model")))
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 3])  # truncated download
    args = ["--dnabert", tiny_models.dnabert_dir, "--esm", esm, "--classifier", tiny_models.classifier, "--offline"]
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", *args)
    assert code == 2 and "re-download" in _error_line(err)
    weights.write_bytes(good)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", *args)
    assert code == 0, err


def test_force_removes_everything_the_previous_run_wrote(tmp_path, run_cli, model_args):
    o = tmp_path / "o"
    assert run_cli("predict", GOLDEN / "input.fa", "-o", o, "--keep-intermediate", *model_args)[0] == 0
    assert (o / "chunks.fa").exists() and (o / "embeddings").exists()
    (o / "notes.txt").write_text("the user's own file")
    assert run_cli("predict", GOLDEN / "input.fa", "-o", o, "--force", *model_args)[0] == 0
    assert not (o / "chunks.fa").exists() and not (o / "embeddings").exists() and not (o / "work_units").exists()
    assert (o / "notes.txt").exists()
    assert (o / "virnucpro.log").read_text().count("===== run start") == 1


def test_log_marks_each_run_start(tmp_path, run_cli, model_args):
    o = tmp_path / "o"
    assert run_cli("predict", GOLDEN / "input.fa", "-o", o, *model_args)[0] == 0
    (o / "prediction_results.txt").write_text("damaged\n")  # a rerun checks, finds damage and recomputes
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", o, *model_args)
    assert code == 0 and "no longer matches its checksum" in err
    assert (o / "prediction_results.txt").read_text().count("\n") == 1 + 586
    assert (o / "virnucpro.log").read_text().count("===== run start") == 1  # the recompute started over


# ---- full disk, read-only location (real file systems; need permission to mount a tmpfs) ----

def _mount_tmpfs(path: Path, size_kb: int, readonly: bool = False) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_kb}k" + (",ro" if readonly else "")
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    mounts: list[Path] = []

    def mount(name: str, size_kb: int, readonly: bool = False) -> Path:
        path = tmp_path / name
        if not _mount_tmpfs(path, size_kb, readonly):
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounts.append(path)
        return path

    yield mount
    for m in mounts:
        subprocess.run(["umount", str(m)], capture_output=True)


@pytest.mark.parametrize("size_kb", [8, 80, *(pytest.param(k, marks=pytest.mark.slow) for k in (24, 40, 60, 120, 160,
                                                                                              240, 320))])
def test_disk_full_at_any_stage_then_resume(size_kb, tmpfs, tmp_path, run_cli, model_args):
    ref = tmp_path / "ref"
    assert run_cli("predict", GOLDEN / "input.fa", "-o", ref, "--unit-frames", 64, "--keep-intermediate",
                   *model_args)[0] == 0
    disk = tmpfs("disk", size_kb)
    out = disk / "out"
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", 64, "--keep-intermediate",
                           *model_args)
    assert code == 2 and "no space left" in _error_line(err)
    assert _leftovers(disk) == []
    assert not (out / "prediction_results.txt").exists() or json.loads(
        (out / "run_info.json").read_text())["status"] != "complete"
    subprocess.run(["mount", "-o", f"remount,size={4 << 10}k", str(disk)], check=True)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", 64, "--keep-intermediate",
                           *model_args)
    assert code == 0, err
    _same_outputs(ref, out)


def test_read_only_output_location(tmpfs, run_cli, model_args):
    ro = tmpfs("ro", 64, readonly=True)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", ro / "out", *model_args)
    assert code == 2 and "read-only file system" in _error_line(err)


def test_piped_input_on_a_full_disk_leaves_no_spool(tmpfs, tmp_path, model_args):
    disk = tmpfs("disk", 64)
    src = GOLDEN / "input.fa"  # 340 kB: does not fit
    cmd = " ".join(f"'{c}'" for c in _cmd("-", disk / "out", model_args))
    proc = subprocess.run(["bash", "-c", f"cat '{src}' | {cmd}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no space left" in _error_line(proc.stderr)
    assert list(disk.iterdir()) == []  # the directory this run created is gone again


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path, run_cli, model_args, monkeypatch):
    out = tmp_path / "out"
    _crashed_run(out, run_cli, model_args, monkeypatch)
    stale = [out / ".prediction_results.txt.tmp-999999", out / "work_units" / ".unit_0000003.tsv.tmp-999999"]
    for p in stale:
        p.write_text("half written")
    (out / "work_units" / ".merge-abc").mkdir()
    (out / "work_units" / ".merge-abc" / "run_0_0.tsv").write_text("C\tx\n")
    assert run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", UNIT_FRAMES, *model_args)[0] == 0
    assert _leftovers(out) == []


def test_resume_with_other_models_is_refused_in_one_short_line(tmp_path, run_cli, model_args, monkeypatch,
                                                               tiny_models):
    import shutil

    out = tmp_path / "out"
    _crashed_run(out, run_cli, model_args, monkeypatch)
    other = tmp_path / ("classifier_with_a_long_directory_name_" * 4)
    other.mkdir()
    shutil.copy(tiny_models.classifier, other / "c.pth")
    args = [a if a != tiny_models.classifier else other / "c.pth" for a in model_args]
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", UNIT_FRAMES, *args)
    line = _error_line(err)
    assert code == 2 and "different models" in line and "--force" in line


def test_cpu_resume_keeps_the_thread_count(tmp_path, run_cli, model_args, monkeypatch):
    """CPU sums depend on the thread count: an automatic resume keeps the earlier count; a different explicit
    --threads is refused rather than mixing scores of two summation orders."""
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        m.setattr("virnucpro.pipeline.resolve.effective_threads", lambda n: n or 1)  # the first run had 1 core
        _crashed_run(out, run_cli, model_args + ["--threads", "1"], monkeypatch)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", UNIT_FRAMES, "--threads", "2",
                           *model_args)
    assert code == 2 and "cpu_threads: 1 then, 2 now" in _error_line(err)
    monkeypatch.setattr("virnucpro.pipeline.resolve.effective_threads", lambda n: n or 2)  # now 2 cores, no --threads
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, "--unit-frames", UNIT_FRAMES, *model_args)
    assert code == 0 and "earlier run's 1 CPU threads" in err
