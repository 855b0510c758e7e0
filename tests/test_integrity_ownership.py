"""Commands never destroy another command's run, their own inputs, or the shards they merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import one_error_line
from virnucpro.dirlock import lock_output_dir
from virnucpro.pipeline.ownership import owner_of

READS = ">r1\n" + "ACGTTGCAAGGCTTAACCGGTTAGCATGCA" * 20 + "\n>r2\n" + "GGCATTACGATCGATCGGATCCATGCAAGT" * 20 + "\n"


def _run_dir(root: Path, owner: str | None, **extra) -> str:
    """A finished run of `owner` (run_info.json plus one result table); returns run_info's text."""
    root.mkdir(parents=True, exist_ok=True)
    info = {"tool": "virnucpro", "status": "complete", "parameters": {"chunk_size": 500}, **extra}
    if owner:
        info["owner"] = owner
    text = json.dumps(info)
    (root / "run_info.json").write_text(text)
    (root / "prediction_results.txt").write_text("Sequence_ID\tPrediction\n")
    return text


@pytest.fixture
def reads(tmp_path) -> Path:
    p = tmp_path / "reads.fa"
    p.write_text(READS)
    return p


@pytest.mark.parametrize("owner", ["predict", "extract", "train"])
def test_prepare_with_force_refuses_another_commands_directory(owner, reads, tmp_path, run_cli):
    out = tmp_path / "run"
    before = _run_dir(out, owner)
    code, _, err = run_cli("prepare", reads, "-o", out, "--force")
    assert code == 2
    assert f"virnucpro {owner}" in one_error_line(err)
    assert (out / "run_info.json").read_text() == before
    assert not (out / "chunks.fa").exists()


def test_prepare_refuses_a_directory_a_running_command_holds(reads, tmp_path, run_cli):
    out = tmp_path / "run"
    lock = lock_output_dir(out)
    try:
        code, _, err = run_cli("prepare", reads, "-o", out, "--force")
    finally:
        lock.release()
    assert code == 2 and "in use" in one_error_line(err)
    assert not (out / "run_info.json").exists()


def test_prepare_records_itself_as_owner_and_reruns_with_force(reads, tmp_path, run_cli):
    out = tmp_path / "prep"
    assert run_cli("prepare", reads, "-o", out)[0] == 0
    assert json.loads((out / "run_info.json").read_text())["owner"] == "prepare"
    assert run_cli("prepare", reads, "-o", out, "--force")[0] == 0


@pytest.mark.parametrize("name", ["chunks.fa", "identified_nucleotide.fa"])
def test_prepare_never_overwrites_its_own_input(name, reads, tmp_path, run_cli):
    out = tmp_path / "prep"
    assert run_cli("prepare", reads, "-o", out)[0] == 0
    own = out / name
    before = own.read_bytes()
    code, _, err = run_cli("prepare", own, "-o", out, "--force")
    assert code == 2 and name in one_error_line(err)
    assert own.read_bytes() == before


def test_prepare_input_through_a_symlink_to_its_output_is_refused(reads, tmp_path, run_cli):
    out = tmp_path / "prep"
    assert run_cli("prepare", reads, "-o", out)[0] == 0
    link = tmp_path / "link.fa"
    link.symlink_to(out / "chunks.fa")
    before = (out / "chunks.fa").read_bytes()
    assert run_cli("prepare", link, "-o", out, "--force")[0] == 2
    assert (out / "chunks.fa").read_bytes() == before


@pytest.mark.parametrize("name", ["chunks.fa", "work_units/unit_000000.tsv", "prediction_results.txt"])
def test_predict_force_never_removes_its_own_input(name, reads, tmp_path, run_cli, model_args):
    out = tmp_path / "run"
    own = out / name
    own.parent.mkdir(parents=True)
    own.write_text(READS)
    code, _, err = run_cli("predict", own, "-o", out, "--force", *model_args)
    assert code == 2 and "would be overwritten or removed" in one_error_line(err)
    assert own.read_text() == READS


@pytest.mark.parametrize("command", ["predict", "prepare"])
@pytest.mark.parametrize("name", [".viral.fa.tmp-4242", "work_units/.unit_000000.tsv.tmp-7", ".input.spool-1",
                                  ".merge-abcd1234/x.fa"])
def test_an_input_named_like_a_leftover_temporary_is_refused_not_removed(name, command, reads, tmp_path, run_cli,
                                                                         model_args):
    """A run removes killed runs' temporaries from its directory on start: an input there with such a name is
    refused before that clean-up, never deleted (found by a hostile pass: it was removed, then 'does not exist')."""
    out = tmp_path / "run"
    own = out / name
    own.parent.mkdir(parents=True)
    own.write_text(READS)
    args = model_args if command == "predict" else []
    code, _, err = run_cli(command, own, "-o", out, *args)
    assert code == 2, err
    assert own.read_text() == READS


def test_predict_input_elsewhere_in_its_directory_is_allowed_past_the_check(reads, tmp_path):
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.ownership import check_inputs_survive

    out = OutputPaths(tmp_path)
    check_inputs_survive(out, [tmp_path / "my_reads.fa", "-"], out.everything_written())


@pytest.mark.parametrize("owner", ["prepare", "train", "extract"])
def test_predict_with_force_refuses_another_commands_directory(owner, reads, tmp_path, run_cli, model_args):
    out = tmp_path / "run"
    before = _run_dir(out, owner)
    code, _, err = run_cli("predict", reads, "-o", out, "--force", *model_args)
    assert code == 2 and f"virnucpro {owner}" in one_error_line(err)
    assert (out / "run_info.json").read_text() == before


@pytest.mark.parametrize("target", ["s1", "s2", "s1/work_units"])
def test_merge_into_one_of_its_shards_is_refused(target, tmp_path, run_cli):
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    for s in (s1, s2):
        _run_dir(s, "predict")
        (s / "work_units").mkdir()
        (s / "work_units" / "unit_000000.tsv").write_text("x")
    code, _, err = run_cli("merge", s1, s2, "-o", tmp_path / target, "--force")
    assert code == 2 and "shard directory" in one_error_line(err)
    assert (s1 / "work_units" / "unit_000000.tsv").read_text() == "x"
    assert (s2 / "run_info.json").exists()


@pytest.mark.parametrize("owner", ["prepare", "train", "extract"])
def test_merge_refuses_another_commands_directory(owner, tmp_path):
    from virnucpro.errors import ResumeError
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.workdir import held_directory

    out = tmp_path / "run"
    _run_dir(out, owner)
    with pytest.raises(ResumeError, match=f"virnucpro {owner}"):
        with held_directory(OutputPaths(out), "predict"):
            pass


def test_owner_of_older_runs_is_inferred(tmp_path):
    assert owner_of(tmp_path) is None
    (tmp_path / "run_info.json").write_text(json.dumps({"command": "prepare"}))
    assert owner_of(tmp_path) == "prepare"
    (tmp_path / "run_info.json").write_text(json.dumps({"parameters": {"mode": "extract"}}))
    assert owner_of(tmp_path) == "extract"
    (tmp_path / "run_info.json").write_text(json.dumps({"parameters": {"chunk_size": 500}}))
    assert owner_of(tmp_path) == "predict"
    (tmp_path / "run_info.json").unlink()
    (tmp_path / "metrics.json").write_text("{}")
    assert owner_of(tmp_path) == "train"


def test_train_refuses_a_predict_directory(reads, tmp_path, run_cli, tiny_model_args):
    out = tmp_path / "run"
    before = _run_dir(out, "predict")
    (out / "report.html").write_text("<html>predict</html>")
    code, _, err = run_cli("train", "--viral", reads, "--other", reads, "-o", out, *tiny_model_args)
    assert code == 2 and "virnucpro predict" in one_error_line(err)
    assert (out / "run_info.json").read_text() == before
    assert (out / "report.html").read_text() == "<html>predict</html>"


def test_workflow_refuses_a_predict_directory_even_with_force(tmp_path, run_cli):
    out = tmp_path / "run"
    before = _run_dir(out, "predict")
    code, _, err = run_cli("workflow", out, "--force")
    line = one_error_line(err)
    assert code == 2 and "virnucpro predict" in line and "use another DIRECTORY" in line and "--output-dir" not in line, line
    assert not (out / "Snakefile").exists() and (out / "run_info.json").read_text() == before


def test_predict_refuses_a_workflow_directory(reads, tmp_path, run_cli, model_args):
    wf = tmp_path / "wf"
    assert run_cli("workflow", wf)[0] == 0
    assert run_cli("workflow", wf, "--force")[0] == 0
    code, _, err = run_cli("predict", reads, "-o", wf, "--force", *model_args)
    assert code == 2 and "virnucpro workflow" in one_error_line(err)
    assert (wf / "Snakefile").is_file()


def test_download_into_a_run_directory_is_refused(tmp_path, run_cli):
    out = tmp_path / "run"
    before = _run_dir(out, "predict")
    code, _, err = run_cli("download", "--model-dir", out, "--chunk-size", "500")
    assert code == 2 and "virnucpro predict" in one_error_line(err)
    assert (out / "run_info.json").read_text() == before and not (out / "classifiers").exists()


def test_download_into_a_busy_model_dir_is_refused(tmp_path, run_cli):
    lock = lock_output_dir(tmp_path / "models")
    try:
        code, _, err = run_cli("download", "--model-dir", tmp_path / "models", "--chunk-size", "500")
    finally:
        lock.release()
    assert code == 2 and "in use" in one_error_line(err)


@pytest.mark.parametrize("owner", ["train", "prepare", "workflow"])
def test_report_refuses_another_commands_directory(owner, tmp_path, run_cli):
    out = tmp_path / "run"
    _run_dir(out, owner)
    code, _, err = run_cli("report", out)
    assert code == 2 and f"virnucpro {owner}" in one_error_line(err)
    assert not (out / "report.html").exists()


def test_stdin_redirected_from_a_file_the_clean_up_removes_is_refused(tmp_path, model_args):
    """`predict - -o DIR < DIR/.x.tmp-123`: the file behind stdin is checked like a named input (was deleted by the
    start-up clean-up while the run read it, exit 0; found by a hostile pass)."""
    import subprocess
    import sys

    out = tmp_path / "run"
    out.mkdir()
    own = out / ".x.tmp-123"
    own.write_text(READS)
    with open(own, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "virnucpro", "predict", "-", "-o", str(out), "--device", "cpu",
                               *map(str, model_args)], stdin=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "named like a temporary file" in one_error_line(done.stderr), done.stderr
    assert own.read_text() == READS
