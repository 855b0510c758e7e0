"""config.yaml and samples.tsv are checked before any job is submitted; sample names never escape or inject."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from virnucpro.errors import InputError
from virnucpro.report.sample_names import is_safe_name, relative_href
from virnucpro.workflow.config import validate_workflow

BASE = {"samples": "samples.tsv", "outdir": "results", "shards": 2, "chunk_size": 500, "device": "cpu",
        "threads": 2, "dnabert": "d", "esm": "e", "classifier": "", "model_dir": "", "extra_args": ""}


@pytest.fixture
def wf(tmp_path) -> Path:
    (tmp_path / "a.fa").write_text(">r\nACGT\n")
    (tmp_path / "b.fa").write_text(">r\nACGTA\n")
    (tmp_path / "samples.tsv").write_text("sample\tpath\tpaired\ns1\ta.fa\tno\ns2\ta.fa,b.fa\tyes\n")
    return tmp_path


def _check(wf: Path, **changes):
    return validate_workflow({**BASE, **changes}, wf)


def test_valid_config_gives_typed_settings(wf):
    s = _check(wf)
    assert s.shards == 2 and s.threads == 2 and s.samples["s2"].paired and s.samples["s2"].paths == ["a.fa", "b.fa"]


@pytest.mark.parametrize("key,value,needle", [
    ("shards", 0, "shards"), ("shards", "two", "shards"), ("shards", 10**30, "shards"), ("shards", True, "shards"),
    ("threads", "eight", "threads"), ("threads", 0, "threads"), ("threads", 2.5, "threads"),
    ("device", "foo", "device"), ("device", "cuda:x", "device"),
    ("chunk_size", 400, "published classifier"), ("chunk_size", 10**20, "chunk_size"), ("chunk_size", 0, "chunk_size"),
    ("outdir", "", "outdir"), ("samples", "missing.tsv", "missing.tsv"), ("sample", "x", "unknown key"),
])
def test_config_mistake_is_one_line_before_any_job(wf, key, value, needle):
    with pytest.raises(InputError, match=needle) as exc:
        _check(wf, **{key: value})
    assert "\n" not in str(exc.value)


def test_custom_chunk_size_with_own_classifier_is_accepted(wf):
    assert _check(wf, chunk_size=400, classifier="mine.safetensors").chunk_size == 400


@pytest.mark.parametrize("row,needle", [
    ("../../x\ta.fa\tno", "not allowed"), ("javascript:alert(document.domain)\ta.fa\tno", "not allowed"),
    (".hidden\ta.fa\tno", "not allowed"), ("a/b\ta.fa\tno", "not allowed"), ("s1\ta.fa\tno", "twice"),
    ("s3\ta.fa\ty", "yes or no"), ("s3\tnope.fa\tno", "not a file"), ("s3\t\tno", "no path"),
    ("s3\ta.fa,b.fa,a.fa\tyes", "R1,R2"), ("x..y\ta.fa\tno", "not allowed"),
])
def test_samples_row_mistake_names_the_line(wf, row, needle):
    (wf / "samples.tsv").write_text("sample\tpath\tpaired\ns1\ta.fa\tno\n" + row + "\n")
    with pytest.raises(InputError, match=needle) as exc:
        _check(wf)
    assert "line 3" in str(exc.value)


def test_samples_with_a_utf8_bom_are_read(wf):
    (wf / "samples.tsv").write_bytes("\ufeffsample\tpath\ns1\ta.fa\n".encode())
    assert list(_check(wf).samples) == ["s1"]


def test_samples_not_utf8_is_one_line(wf):
    (wf / "samples.tsv").write_bytes(b"sample\tpath\n\xff\xfe\ta.fa\n")
    with pytest.raises(InputError, match="UTF-8"):
        _check(wf)


@pytest.mark.parametrize("name", ["javascript:alert(document.domain)", "../../x", "a b", "<b>", "", ".x", "x" * 200])
def test_unsafe_names_never_become_links(name):
    assert not is_safe_name(name) and relative_href(name, "report.html") is None


def test_link_is_relative_and_percent_encoded():
    assert relative_href("s+1.v2", "report.html") == "s%2B1.v2/report.html"


def test_summary_page_links_only_safe_names():
    from virnucpro.report import aggregate
    from virnucpro.report.summary_page import render

    counts = {"records": 1, "frames": 1, "sequences_by_verdict": {"virus": 1, "others": 0, "no_frames": 0}}
    figs = aggregate.RunFigures()
    html = render([("javascript:alert(document.domain)", counts, figs), ("ok1", counts, figs)])
    assert 'href="javascript' not in html and 'href="ok1/report.html"' in html
    assert "javascript:alert(document.domain)" in html  # shown as text, not a link


def test_write_summary_refuses_an_unsafe_sample(tmp_path):
    from virnucpro.report.summary_page import write_summary

    with pytest.raises(InputError, match="not allowed"):
        write_summary(tmp_path, ["../../x"])


def test_snakefile_refuses_a_bad_config_before_any_job(wf):
    pytest.importorskip("snakemake")
    from importlib import resources

    snakefile = resources.files("virnucpro") / "data" / "workflow" / "Snakefile"
    (wf / "Snakefile").write_text(snakefile.read_text())
    (wf / "config.yaml").write_text("samples: samples.tsv\noutdir: results\nshards: 0\n")
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]
    r = subprocess.run([*cmd, "-n", "--cores", "1"], cwd=wf, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "shards" in r.stdout + r.stderr
    assert not (wf / "results").exists()


@pytest.mark.parametrize("extra,needle", [
    ("--chunk-size 300", "--chunk-size"), ("--shard 1/2", "--shard"), ("-o elsewhere", "-o"),
    ("--batch-tokens 0", "--batch-tokens"), ("--no-such-flag", "unrecognized"), ("'unclosed", "quoting"),
    ("--force", "--force"), ("--unit-frames=-1", "--unit-frames"),
])
def test_extra_args_mistake_is_refused_before_any_job(wf, extra, needle):
    with pytest.raises(InputError, match=needle) as exc:
        _check(wf, extra_args=extra)
    assert "\n" not in str(exc.value)


def test_extra_args_predict_flags_are_accepted(wf):
    _check(wf, extra_args="--unit-frames 48 --batch-tokens 32768")


def _finished(wf: Path, name: str, files: list[str]) -> Path:
    import json
    import os

    run = wf / "results" / name
    run.mkdir(parents=True)
    recs = [{"path": str(wf / f), "bytes": (wf / f).stat().st_size, "sha256": "x"} for f in files]
    desc = recs[0] if len(recs) == 1 else {"files": recs, "paired": True}
    (run / "run_info.json").write_text(json.dumps({"status": "complete", "input": desc}))
    later = (wf / files[0]).stat().st_mtime + 10
    os.utime(run / "run_info.json", (later, later))
    return run


def test_finished_sample_with_unchanged_input_is_accepted(wf):
    _finished(wf, "s1", ["a.fa"])
    _finished(wf, "s2", ["a.fa", "b.fa"])
    _check(wf)


@pytest.mark.parametrize("change", ["grown", "touched", "more_files"])
def test_input_changed_after_a_finished_run_is_refused_before_any_job(wf, change):
    import os

    run = _finished(wf, "s1", ["a.fa"])
    if change == "grown":
        (wf / "a.fa").write_text(">r\nACGTACGT\n")
        os.utime(wf / "a.fa", (1, 1))
    elif change == "touched":
        later = (run / "run_info.json").stat().st_mtime + 10
        os.utime(wf / "a.fa", (later, later))
    else:
        (wf / "samples.tsv").write_text("sample\tpath\ns1\ta.fa,b.fa\ns2\tb.fa\n")
    with pytest.raises(InputError, match="changed after its finished run"):
        _check(wf)
