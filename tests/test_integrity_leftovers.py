"""Clear one-line errors for paths in the way, and no leftovers of killed runs in a held directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import one_error_line
from virnucpro.errors import ModelError
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.workdir import held_directory


def test_output_dir_a_dangling_symlink_is_one_line(tmp_path, run_cli):
    (tmp_path / "r.fa").write_text(">r\nACGTACGTACGT\n")
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone" / "deeper")
    code, _, err = run_cli("prepare", tmp_path / "r.fa", "-o", link)
    assert code == 2 and "symbolic link" in one_error_line(err)


@pytest.mark.parametrize("where", ["file", "under_file", "dangling"])
def test_model_dir_that_is_no_directory_is_not_blamed_on_the_network(where, tmp_path, run_cli):
    f = tmp_path / "cache"
    if where == "dangling":
        f.symlink_to(tmp_path / "nowhere")
        target = f
    else:
        f.write_text("x")
        target = f if where == "file" else f / "sub"
    code, _, err = run_cli("download", "--model-dir", target, "--chunk-size", "500")
    line = one_error_line(err)
    assert code == 2 and "model cache" in line and "network" not in line.lower()


def test_classifier_that_is_a_directory_says_so(tmp_path):
    from virnucpro.models.store import classifier_path

    with pytest.raises(ModelError, match="is a directory"):
        classifier_path(str(tmp_path), 500, tmp_path, offline=True)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_safetensors_output_respects_the_umask(umask, tmp_path):
    import torch

    from virnucpro.atomic import save_safetensors

    old = os.umask(umask)
    try:
        save_safetensors(tmp_path / "x.safetensors", {"a": torch.zeros(2)})
    finally:
        os.umask(old)
    assert (tmp_path / "x.safetensors").stat().st_mode & 0o777 == 0o666 & ~umask


def test_leftovers_of_a_killed_rerun_go_even_when_the_run_is_complete(tmp_path):
    (tmp_path / "run_info.json").write_text(json.dumps({"owner": "predict", "status": "complete"}))
    stale = [tmp_path / ".report.html.tmp-123", tmp_path / ".input.spool", tmp_path / ".input.spool.2",
             tmp_path / "work_units" / ".unit_000001.tsv.tmp-9"]
    stale[-1].parent.mkdir()
    for p in stale:
        p.write_text("partial")
    (tmp_path / "mine.txt").write_text("user file")
    with held_directory(OutputPaths(tmp_path), "predict"):
        pass
    assert not any(p.exists() for p in stale)
    assert (tmp_path / "mine.txt").read_text() == "user file"


def test_another_commands_directory_is_left_untouched(tmp_path):
    from virnucpro.errors import ResumeError

    (tmp_path / "run_info.json").write_text(json.dumps({"owner": "train", "status": "complete"}))
    tmp = tmp_path / ".metrics.json.tmp-5"
    tmp.write_text("x")
    with pytest.raises(ResumeError):
        with held_directory(OutputPaths(tmp_path), "predict"):
            pass
    assert tmp.exists()


def test_a_new_training_run_removes_the_previous_classifier_first(tmp_path):
    from virnucpro.pipeline.ownership import finish_owned_run, start_owned_run

    out = OutputPaths(tmp_path)
    for name in ("classifier.safetensors", "metrics.json", "report.html"):
        (tmp_path / name).write_text("old")
    info = start_owned_run(out, "train", {"seed": 1}, ("classifier.safetensors", "metrics.json", "report.html"))
    assert not (tmp_path / "classifier.safetensors").exists()
    assert json.loads((tmp_path / "run_info.json").read_text())["status"] == "running"
    finish_owned_run(out, info)
    assert json.loads((tmp_path / "run_info.json").read_text())["status"] == "complete"


def test_only_virnucpro_temporaries_are_removed(tmp_path):
    (tmp_path / "run_info.json").write_text(json.dumps({"owner": "predict", "status": "complete"}))
    mine = [tmp_path / ".notes.tmp-old", tmp_path / ".merge-my-own-folder", tmp_path / "x.tmp-12"]
    mine[0].write_text("user")
    mine[1].mkdir()
    mine[2].write_text("user")
    (tmp_path / ".merge-ab12cd_3").mkdir()
    with held_directory(OutputPaths(tmp_path), "predict"):
        pass
    assert all(p.exists() for p in mine) and not (tmp_path / ".merge-ab12cd_3").exists()


@pytest.mark.slow
def test_train_stopped_by_sigterm_exits_143_and_leaves_no_old_classifier(tmp_path, tiny_models):
    import random
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(0)
    for n in ("v", "o"):
        (tmp_path / f"{n}.fa").write_text("".join(f">{n}{i}\n" + "".join(rng.choice("ACGT") for _ in range(3000))
                                                  + "\n" for i in range(200)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "classifier.safetensors").write_text("previous run")
    (out / "run_info.json").write_text(json.dumps({"owner": "train", "status": "complete"}))
    proc = subprocess.Popen([sys.executable, "-m", "virnucpro", "train", "--viral", tmp_path / "v.fa", "--other",
                             tmp_path / "o.fa", "-o", out, "--dnabert", tiny_models.dnabert_dir, "--esm",
                             tiny_models.esm_dir, "--offline", "--device", "cpu", "--chunk-size", "300"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while json.loads((out / "run_info.json").read_text()).get("status") != "running" and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and err.strip().splitlines()[-1].startswith("virnucpro: stopped by SIGTERM")
    assert not (out / "classifier.safetensors").exists()
    assert json.loads((out / "run_info.json").read_text())["status"] == "running"
