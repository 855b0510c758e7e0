"""predict under the faults a cluster user meets (continued): bad input content, arguments and paths, full disks,
read-only locations, stale temporaries, resumes with other models or threads.

Each test asserts the exit code, the single error line and what is left on disk.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import GOLDEN
from conftest import assert_same_outputs as _same_outputs
from conftest import one_error_line as _error_line
from test_faults import UNIT_FRAMES, _cmd, _crashed_run, _leftovers


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
