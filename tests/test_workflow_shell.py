"""A workflow config is input, not code: every value that reaches a job's shell command is one quoted argument, and
braces never break Snakemake's formatting (refused where Snakemake reads a path as a pattern)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from virnucpro.errors import InputError
from virnucpro.workflow import commands
from virnucpro.workflow.config import validate_workflow

HOSTILE = ["x;touch F1;#", "$(touch F2)", "`touch F3`", "a|touch F4", "a>F5", "a&&touch F6", "a\ntouch F7",
           "{x}", "{{y}}", "'\"", "a b", "-x", "${HOME}", "a\\b", "\u202e.exe"]
BASE = {"samples": "samples.tsv", "outdir": "results", "shards": 2, "chunk_size": 500, "device": "cpu",
        "threads": 2, "dnabert": "d", "esm": "e", "classifier": "", "model_dir": "", "extra_args": ""}
# a stand-in for the CLI that records the words it was given, one JSON list per line
RECORDER = 'virnucpro() { "$PY" -c \'import json,sys; print(json.dumps(sys.argv[1:]))\' "$@"; }\n'


def _words_the_shell_passes(command: str, cwd: Path) -> list[str]:
    proc = subprocess.run(["bash", "-c", RECORDER + command], cwd=cwd, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PY": sys.executable})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _no_side_effects(cwd: Path, expected: set[str]) -> None:
    assert {p.name for p in cwd.iterdir()} == expected


@pytest.mark.parametrize("value", HOSTILE)
def test_shard_command_passes_every_value_as_one_word(tmp_path, value):
    config = {**BASE, "dnabert": f"d{value}", "esm": f"e{value}", "model_dir": f"m{value}",
              "extra_args": f"--esm-revision {commands.join([value])} --batch-tokens 1024"}
    cmd = commands.shard_command([f"in{value}.fa", value], True, f"out{value}/1", "1", 2, "cpu", 3, config, 500)
    assert _words_the_shell_passes(cmd, tmp_path) == [
        "predict", f"in{value}.fa", commands.path_word(value), "--paired", "-o", f"out{value}/1", "--shard", "1/2",
        "--device", "cpu", "--threads", "3", "--offline", "--chunk-size", "500", "--dnabert", f"d{value}", "--esm",
        f"e{value}", "--model-dir", f"m{value}", "--esm-revision", value, "--batch-tokens", "1024", "-q"]
    _no_side_effects(tmp_path, set())


@pytest.mark.parametrize("extra", ["--esm-revision=x;touch F1;#", "--esm-revision=$(touch F2)",
                                   "--esm-revision=`touch F3`", "--esm-revision=a|touch F4", "--esm-revision=a>F5",
                                   "--esm-revision=a&&touch F6", "--esm-revision=a\ntouch F7", "--esm-revision={x}"])
def test_unquoted_extra_args_stay_arguments(tmp_path, extra):
    cmd = commands.shard_command(["a.fa"], False, "o", "1", 1, "cpu", 1, {**BASE, "extra_args": extra}, 500)
    words = _words_the_shell_passes(cmd, tmp_path)
    assert words[words.index("--offline") + 7:-1] == commands.words(extra)
    _no_side_effects(tmp_path, set())


@pytest.mark.parametrize("value", HOSTILE)
def test_merge_and_download_commands_quote_every_value(tmp_path, value):
    cmd = commands.merge_command([f"s{value}/1", f"s{value}/2"], value)
    assert _words_the_shell_passes(cmd, tmp_path) == ["merge", f"s{value}/1", f"s{value}/2", "-o",
                                                      commands.path_word(value), "--force", "-q"]
    cmd = commands.download_command({**BASE, "classifier": value}, 300)
    assert _words_the_shell_passes(cmd, tmp_path) == ["download", "--chunk-size", "300", "--dnabert", "d", "--esm",
                                                      "e", "--classifier", value]
    _no_side_effects(tmp_path, set())


@pytest.fixture
def wf(tmp_path) -> Path:
    (tmp_path / "a.fa").write_text(">r\nACGT\n")
    (tmp_path / "samples.tsv").write_text("sample\tpath\ns1\ta.fa\n")
    return tmp_path


@pytest.mark.parametrize("key", ["dnabert", "esm", "classifier", "model_dir"])
@pytest.mark.parametrize("value", ["{x}", "a;$(touch F)`touch G`|>&&", "'\"{{}}"])
def test_hostile_model_values_are_accepted_as_plain_text(wf, key, value):
    validate_workflow({**BASE, key: value}, wf)
    assert sorted(p.name for p in wf.iterdir()) == ["a.fa", "samples.tsv"]


@pytest.mark.parametrize("key,value,needle", [
    ("outdir", "res{x}", "brace"), ("outdir", "res}", "brace"), ("outdir", "a\nb", "control"),
    ("outdir", "a\x1b[31m", "control"), ("dnabert", "d\ne", "control"), ("model_dir", "m\rx", "control"),
    ("esm", ["a", "b"], "single value"), ("classifier", {"a": 1}, "single value"),
    ("extra_args", "--esm-revision 'x", "quoting"),
])
def test_values_snakemake_or_a_shell_would_misread_are_refused(wf, key, value, needle):
    with pytest.raises(InputError, match=needle) as exc:
        validate_workflow({**BASE, key: value}, wf)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["in{x}.fa", "in{sample}.fa", "in}.fa"])
def test_sample_path_with_braces_is_refused_at_validation(wf, name):
    (wf / name).write_text(">r\nACGT\n")
    (wf / "samples.tsv").write_text(f"sample\tpath\ns1\t{name}\n")
    with pytest.raises(InputError, match="brace") as exc:
        validate_workflow(BASE, wf)
    assert "\n" not in str(exc.value) and name in str(exc.value)


def test_hostile_sample_path_is_accepted_and_stays_one_word(wf):
    name = "a b;$(touch F)`touch G`|x>y&&z'\".fa"
    (wf / name).write_text(">r\nACGT\n")
    (wf / "samples.tsv").write_text(f"sample\tpath\ns1\t{name}\n")
    assert validate_workflow(BASE, wf).samples["s1"].paths == [name]
    cmd = commands.shard_command([name], False, "o", "1", 1, "cpu", 1, BASE, 500)
    assert _words_the_shell_passes(cmd, wf)[1] == name
    assert not (wf / "F").exists() and not (wf / "G").exists() and not (wf / "y").exists()


STUB = ("#!{python}\nimport json, sys\nwith open('calls.jsonl', 'a') as fh:\n"
        "    fh.write(json.dumps(sys.argv[1:]) + '\\n')\n")


@pytest.mark.slow
def test_snakemake_runs_hostile_values_as_arguments(tmp_path, run_cli):
    """The generated Snakefile under Snakemake itself: the models and shard jobs of a config full of shell code and
    braces run with each value as one argument (a recording stand-in for the CLI), and nothing else runs."""
    pytest.importorskip("snakemake")
    wf = tmp_path / "wf"
    assert run_cli("workflow", wf)[0] == 0
    reads = "r b;$(touch P1)`touch P2`.fa"
    (wf / reads).write_text(">r\nACGT\n")
    (wf / "samples.tsv").write_text(f"sample\tpath\ns1\t{reads}\n")
    out = "res;touch P3 `touch P4`&&x|y>z"
    extra = "--esm-revision='x;touch P5;#' --esm-revision='{z}$(touch P6)`touch P7`|cat>P8&&touch P9'"
    (wf / "config.yaml").write_text(json.dumps({**BASE, "outdir": out, "dnabert": "d{x}$(touch P10)",
                                                "esm": "e'\"|touch P11", "model_dir": "m{{y}} > P12",
                                                "extra_args": extra}))
    (wf / "bin").mkdir()
    (wf / "bin" / "virnucpro").write_text(STUB.format(python=sys.executable))
    (wf / "bin" / "virnucpro").chmod(0o755)
    before = {p.name for p in wf.iterdir()}
    exe = Path(sys.executable).with_name("snakemake")
    env = {**os.environ, "PATH": f"{wf / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([str(exe), "--cores", "1", f"{out}/.virnucpro/shards/s1/2.done"], cwd=wf, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    calls = [json.loads(line) for line in (wf / "calls.jsonl").read_text().splitlines()]
    models = ["--chunk-size", "500", "--dnabert", "d{x}$(touch P10)", "--esm", "e'\"|touch P11", "--model-dir",
              "m{{y}} > P12"]
    assert calls == [["download", *models],
                     ["predict", reads, "-o", f"{out}/.virnucpro/shards/s1/2", "--shard", "2/2", "--device", "cpu",
                      "--threads", "1", "--offline", *models, *commands.words(extra), "-q"]]
    assert {p.name for p in wf.iterdir()} - before == {out, "calls.jsonl", ".snakemake"}
