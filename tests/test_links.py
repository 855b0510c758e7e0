"""No command writes through a symbolic link planted in a directory it writes; paths reach logs and pages escaped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import one_error_line
from virnucpro.errors import InputError
from virnucpro.nofollow import create_new, make_dirs, open_append, open_fd, remove_entry
from virnucpro.shown import shown, shown_html

READS = ">r1\n" + "ACGTTGCAAGGCTTAACCGGTTAGCATGCA" * 20 + "\n>r2\n" + "GGCATTACGATCGATCGGATCCATGCAAGT" * 20 + "\n"
VICTIM = "precious: must never change\n"
TABLES = ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv", "regions.tsv",
          "run_info.json", "report.html")


@pytest.fixture
def victim(tmp_path) -> Path:
    p = tmp_path / "victim.txt"
    p.write_text(VICTIM)
    return p


@pytest.fixture
def reads(tmp_path) -> Path:
    p = tmp_path / "reads.fa"
    p.write_text(READS)
    return p


@pytest.fixture(scope="module")
def shards(tmp_path_factory, tiny_model_args) -> list[Path]:
    """Two shard directories of one tiny predict run (for merge)."""
    from virnucpro.cli import main

    root = tmp_path_factory.mktemp("shards")
    (root / "reads.fa").write_text(READS)
    dirs = [root / f"s{i}" for i in (1, 2)]
    for i, d in enumerate(dirs, start=1):
        assert main([str(a) for a in ("predict", root / "reads.fa", "-o", d, "--device", "cpu", "--threads", "1",
                                      "--shard", f"{i}/2", "--unit-frames", "4", *tiny_model_args)]) == 0
    return dirs


def _plant(directory: Path, name: str, target: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / name
    link.symlink_to(target)
    return link


def _unchanged(victim: Path) -> None:
    assert victim.read_text() == VICTIM and not victim.is_symlink()


def _commands(reads: Path, model_args: list, out: Path, shards: list[Path]) -> dict[str, list]:
    predict = ["predict", reads, "-o", out, "--device", "cpu", "--threads", "1", *model_args]
    return {"predict": predict, "extract": ["extract", reads, "-o", out, "--device", "cpu", *model_args],
            "prepare": ["prepare", reads, "-o", out], "report": ["report", out], "workflow": ["workflow", out],
            "merge": ["merge", *shards, "-o", out], "train": ["train", "--viral", reads, "--other", reads, "-o", out,
                                                            *model_args]}


@pytest.mark.parametrize("name", [".virnucpro.lock", "virnucpro.log"])
@pytest.mark.parametrize("command", ["predict", "extract", "prepare", "report", "workflow", "merge", "train"])
def test_lock_or_log_link_is_refused_in_one_line(command, name, tmp_path, run_cli, reads, victim, model_args,
                                                 shards):
    out = tmp_path / "out"
    link = _plant(out, name, victim)
    code, _, err = run_cli(*_commands(reads, model_args, out, shards)[command])
    assert code == 2, err
    line = one_error_line(err)
    if command == "report":  # a directory without a finished run is refused before a lock or a log is touched
        assert "holds no finished predict run" in line, line
    else:
        assert name in line and "symbolic link" in line, line
    _unchanged(victim)
    assert link.is_symlink()


def test_predict_replaces_links_at_its_outputs_and_temporaries(tmp_path, run_cli, reads, victim, model_args):
    out = tmp_path / "out"
    for name in TABLES:
        _plant(out, name, victim)
    for name in TABLES[:4]:  # the temporaries' names are predictable (`.NAME.tmp-PID`)
        _plant(out, f".{name}.tmp-{os.getpid()}", victim)
    _plant(out, ".input.spool", victim)
    code, _, err = run_cli("predict", reads, "-o", out, "--device", "cpu", "--threads", "1", "--force", *model_args)
    assert code == 0, err
    _unchanged(victim)
    for name in TABLES:
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.is_symlink()]


def test_report_replaces_a_linked_page(tmp_path, run_cli, reads, victim, model_args):
    out = tmp_path / "out"
    assert run_cli("predict", reads, "-o", out, "--device", "cpu", "--threads", "1", *model_args)[0] == 0
    (out / "report.html").unlink()
    _plant(out, "report.html", victim)
    code, _, err = run_cli("report", out)
    assert code == 0, err
    _unchanged(victim)
    assert not (out / "report.html").is_symlink() and "<html" in (out / "report.html").read_text()


def test_units_link_is_refused_and_force_unlinks_it_without_following(tmp_path, run_cli, reads, model_args):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text(VICTIM)
    out = tmp_path / "out"
    args = ["predict", reads, "-o", out, "--device", "cpu", "--threads", "1", *model_args]
    _plant(out, "work_units", outside)
    code, _, err = run_cli(*args)
    assert code == 2 and one_error_line(err)
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]

    (out / "work_units").unlink()
    assert run_cli(*args)[0] == 0
    tables = {n: (out / n).read_bytes() for n in TABLES[:4]}
    _plant(out, "work_units", outside)
    _plant(out, "embeddings", outside)
    code, _, err = run_cli(*args, "--force")
    assert code == 0, err
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"] and (outside / "keep.txt").read_text() == VICTIM
    assert {n: (out / n).read_bytes() for n in TABLES[:4]} == tables
    assert not (out / "work_units").exists() and not (out / "embeddings").exists()


@pytest.mark.parametrize("command", ["predict", "extract"])
def test_a_linked_embeddings_folder_is_never_written(command, tmp_path, run_cli, reads, model_args):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    _plant(out, "embeddings", outside)
    extra = ["--keep-intermediate", "--threads", "1"] if command == "predict" else []
    code, _, err = run_cli(command, reads, "-o", out, "--device", "cpu", *extra, *model_args)
    line = one_error_line(err)
    assert code == 2 and "symbolic link" in line and "embeddings" in line, line  # the link, not "an extract run"
    assert list(outside.iterdir()) == []


def test_merge_writes_no_table_through_a_link(tmp_path, run_cli, victim, shards):
    out = tmp_path / "merged"
    for name in TABLES:
        _plant(out, name, victim)
    code, _, err = run_cli("merge", *shards, "-o", out, "--force")
    assert code == 0, err
    _unchanged(victim)
    assert not [p for p in out.iterdir() if p.is_symlink()]

    outside = tmp_path / "outside"
    outside.mkdir()
    out2 = tmp_path / "merged2"
    _plant(out2, "work_units", outside)
    code, _, err = run_cli("merge", *shards, "-o", out2)
    assert code == 2 and one_error_line(err)
    assert list(outside.iterdir()) == []


def test_prepare_and_workflow_replace_links_never_follow_them(tmp_path, run_cli, reads, victim):
    out = tmp_path / "prep"
    for name in ("chunks.fa", "identified_nucleotide.fa", "identified_protein.faa", "run_info.json"):
        _plant(out, name, victim)
    assert run_cli("prepare", reads, "-o", out, "--force")[0] == 0
    _unchanged(victim)
    assert not [p for p in out.iterdir() if p.is_symlink()]

    wf = tmp_path / "wf"
    for name in ("Snakefile", "config.yaml", "README.md", "samples.tsv"):
        _plant(wf, name, victim)
    code, _, err = run_cli("workflow", wf, "--force")
    assert code == 0, err
    _unchanged(victim)
    outside = tmp_path / "outside"
    outside.mkdir()
    wf2 = tmp_path / "wf2"
    _plant(wf2, "profiles", outside)
    code, _, err = run_cli("workflow", wf2)
    assert code == 2 and "profiles" in one_error_line(err)
    assert list(outside.iterdir()) == []


def test_control_characters_in_paths_never_reach_the_log_or_the_page_raw(tmp_path, run_cli, model_args):
    name = "evil\n12:00:00 INFO forged line\u202eaf.exe\x1b[31m.fa"
    reads = tmp_path / name
    reads.write_text(READS)
    out = tmp_path / "out\u202erun\nx"
    code, _, err = run_cli("predict", reads, "-o", out, "--device", "cpu", "--threads", "1", *model_args)
    assert code == 0, err
    log = (out / "virnucpro.log").read_text()
    assert "\u202e" not in log and "\x1b" not in log and "\n12:00:00 INFO forged" not in log
    assert all(line[:4].isdigit() for line in log.splitlines()), log
    assert "\u202e" not in err and "\x1b" not in err and "\nforged" not in err
    page = (out / "report.html").read_text()
    assert "\u202e" not in page and "\x1b" not in page and "forged line" in page
    code, _, err = run_cli("report", tmp_path / "no\nsuch\u202edir")
    assert code == 2 and "\u202e" not in one_error_line(err)


@pytest.mark.parametrize("text,expected", [
    ("a\nb", "a\\nb"), ("a\rb\tc", "a\\rb\\tc"), ("x\x1b[31m", "x\\x1b[31m"), ("\u202eexe.txt", "\\u202eexe.txt"),
    ("\x85\u2028\u2066\ufeff", "\\x85\\u2028\\u2066\\ufeff"), ("plain/path é.fa", "plain/path é.fa"),
    (os.fsdecode(b"bad\xff.fa"), "bad\\xff.fa"), ("\ud800", "\\ud800"),
])
def test_shown_escapes_controls_and_bidi_overrides(text, expected):
    assert shown(text) == expected and "\n" not in shown_html(text)


def test_nofollow_primitives(tmp_path, victim):
    link = _plant(tmp_path / "d", "f", victim)
    with pytest.raises(InputError, match="symbolic link"):
        open_fd(link, os.O_WRONLY | os.O_CREAT)
    with pytest.raises(InputError, match="symbolic link"):
        open_append(link)
    with create_new(link) as fh:  # a temporary's name: the link is removed, a fresh file made
        fh.write(b"new")
    assert link.read_bytes() == b"new" and not link.is_symlink()
    _unchanged(victim)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    dlink = _plant(tmp_path / "d", "units", outside)
    with pytest.raises(InputError, match="symbolic link"):
        make_dirs(dlink)
    with pytest.raises(InputError, match="symbolic link"):
        make_dirs(dlink / "sub", tmp_path / "d")
    remove_entry(dlink)
    assert not os.path.lexists(dlink) and (outside / "keep").exists()
    remove_entry(tmp_path / "missing")


def test_an_output_directory_given_as_a_link_is_the_users_choice(tmp_path, run_cli, reads, model_args):
    real = tmp_path / "scratch"
    real.mkdir()
    out = tmp_path / "out"
    out.symlink_to(real)
    (real / f".sequences.tsv.tmp-{os.getpid() + 1}").write_text("stale")
    code, _, err = run_cli("predict", reads, "-o", out, "--device", "cpu", "--threads", "1", *model_args)
    assert code == 0, err
    assert (real / "sequences.tsv").is_file() and not list(real.glob(".*.tmp-*"))
