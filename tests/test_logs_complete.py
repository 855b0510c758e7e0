"""Each command's virnucpro.log holds everything it printed on stderr, and its start line the full command line."""

from __future__ import annotations

import shlex

import pytest

from virnucpro.testing.genbank import write_genbank


def _cli(run_cli, *args):
    """Run the CLI; (exit code, stderr, the `virnucpro ...` command line as the log should show it)."""
    code, _, err = run_cli(*args)
    return code, err, shlex.join(["virnucpro", *map(str, args)])


def _assert_log_holds(log_path, err: str, command: str) -> str:
    """Every logged stderr line is in the log; the last run's start line carries `command`. The last run."""
    log = log_path.read_text()
    last = log.split("===== run start")[-1]
    assert f"command: {command}\n" in last.splitlines(keepends=True)[0], last.splitlines()[0]
    for line in err.splitlines():
        if " INFO " in line or " WARNING " in line or " ERROR " in line:
            assert line.split(" ", 2)[2] in last, line
    return last


def _no_classifier(model_args):
    return [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """A viral GenBank file and an un-annotated FASTA of others (its frames come with a warning)."""
    from virnucpro.io.genbank import read_genbank

    d = tmp_path_factory.mktemp("refs")
    write_genbank(d / "viral.gbk", 8, gc=0.68, seed=1, prefix="vir")
    write_genbank(d / "other.gbk", 8, gc=0.32, seed=2, prefix="oth")
    (d / "other.fa").write_text("".join(f">{r.id}\n{r.seq}\n" for r in read_genbank(str(d / "other.gbk"))))
    return d


def test_train_log_holds_the_fasta_warning_the_trained_line_and_the_argv(tmp_path, run_cli, model_args, refs):
    args = ["train", "--viral", refs / "viral.gbk", "--other", refs / "other.fa", "--chunk-size", 300, "-o",
            tmp_path / "t", *_no_classifier(model_args), "--device", "cpu", "--max-epochs", 2]
    code, err, command = _cli(run_cli, *args)
    assert code == 0, err
    assert "not annotated" in err and "trained: " in err
    last = _assert_log_holds(tmp_path / "t" / "virnucpro.log", err, command)
    assert "not annotated" in last and "trained: " in last and "classifier.safetensors" in last
    for name in ("report.html", "metrics.json", "virnucpro.log"):  # the end of the run names every output
        assert str(tmp_path / "t" / name) in last


def test_prepare_writes_a_log_with_its_summary(tmp_path, run_cli, golden_dir):
    code, err, command = _cli(run_cli, "prepare", golden_dir / "input.fa", "-o", tmp_path / "p")
    assert code == 0, err
    assert "prepared " in _assert_log_holds(tmp_path / "p" / "virnucpro.log", err, command)


def test_predict_and_report_reruns_are_logged_with_their_command(tmp_path, run_cli, model_args, golden_dir):
    out = tmp_path / "o"
    code, err, command = _cli(run_cli, "predict", golden_dir / "input.fa", "-o", out, *model_args, "--device", "cpu")
    assert code == 0, err
    _assert_log_holds(out / "virnucpro.log", err, command)
    code, err, command = _cli(run_cli, "predict", golden_dir / "input.fa", "-o", out, *model_args, "--device", "cpu")
    assert code == 0 and "nothing to do" in err
    assert "nothing to do" in _assert_log_holds(out / "virnucpro.log", err, command)
    code, err, command = _cli(run_cli, "report", out)
    assert code == 0, err
    assert "report: " in _assert_log_holds(out / "virnucpro.log", err, command)


def test_extract_log_carries_its_command(tmp_path, run_cli, model_args, golden_dir):
    code, err, command = _cli(run_cli, "extract", golden_dir / "input.fa", "-o", tmp_path / "x",
                              *_no_classifier(model_args), "--device", "cpu")
    assert code == 0, err
    _assert_log_holds(tmp_path / "x" / "virnucpro.log", err, command)


def test_merge_and_its_no_op_rerun_are_logged(tmp_path, run_cli, model_args, golden_dir):
    shards = [tmp_path / f"s{i}" for i in (1, 2)]
    for i, d in enumerate(shards, 1):
        code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", d, "--unit-frames", 48, "--shard", f"{i}/2",
                               *model_args, "--device", "cpu", "-q")
        assert code == 0, err
    for _ in range(2):  # the second is a no-op
        code, err, command = _cli(run_cli, "merge", *shards, "-o", tmp_path / "m")
        assert code == 0, err
        last = _assert_log_holds(tmp_path / "m" / "virnucpro.log", err, command)
    assert "nothing to do" in last
