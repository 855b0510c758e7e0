"""Round 4, unclear answers: the workflow refuses at validation what every job would refuse (abbreviated or
clustered own flags, a file twice, mates of one content, --keep-intermediate, dangerous outdirs), compares
inputs by content (a touch changes nothing), takes a path with a comma; a finished run's rerun with another
thread count is a no-op; unreadable files are read problems; merge takes a list or a parent; exit code 5 is
documented; spooling names its file on a full disk; report creates nothing without a run; train refuses a
class too small to split, writes valid JSON, and sees a compressed copy as the same file."""

from __future__ import annotations

import errno
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, one_error_line
from virnucpro.errors import InputError
from virnucpro.workflow.config import check_extra_args, validate_workflow

BASE = {"samples": "samples.tsv", "outdir": "results", "shards": 2, "chunk_size": 500, "device": "cpu",
        "threads": 2, "dnabert": "d", "esm": "e", "classifier": "", "model_dir": "", "extra_args": ""}
CODONS = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in ("TAA", "TAG", "TGA")]


@pytest.fixture
def wf(tmp_path) -> Path:
    (tmp_path / "a.fa").write_text(">r1\nACGTACGT\n")
    (tmp_path / "b.fa").write_text(">r2\nACGTACGTAA\n")
    (tmp_path / "samples.tsv").write_text("sample\tpath\tpaired\ns1\ta.fa\tno\n")
    return tmp_path


def _check(wf: Path, **changes):
    return validate_workflow({**BASE, **changes}, wf)


def _refused(wf: Path, needle: str, **changes) -> str:
    with pytest.raises(InputError) as exc:
        _check(wf, **changes)
    text = str(exc.value)
    assert needle in text and "\n" not in text, text
    return text


# a) extra_args: what a flag sets counts, not how it is spelled

@pytest.mark.parametrize("text,needle", [
    ("--outp x", "--output-dir"), ("--output x", "--output-dir"), ("--forc", "--force"), ("--shar 1/2", "--shard"),
    ("--devi cpu", "--device"), ("--thr 2", "--threads"), ("--chunk 300", "--chunk-size"), ("--pair", "--paired"),
    ("--offl", "--offline"), ("--model-d m", "--model-dir"), ("--classif c", "--classifier"), ("--dnab d", "--dnabert"),
    ("--outp=x", "--output-dir"), ("-qo x", "-o/--output-dir"), ("-ox", "-o/--output-dir"),
    ("-vqox", "-o/--output-dir"),
    ("--device auto", "--device"), ("--threads=8", "--threads"), ("--keep-intermediate", "--keep-intermediate"),
    ("--keep-int", "--keep-intermediate"), ("-q --keep-intermediate", "--keep-intermediate"), ("--esm-rev x", "spell"),
    ("--unit 4", "--unit-frames"), ("--nonsense", "nonsense"), ("-h", "-h"),
])
def test_extra_args_refuses_own_flags_however_spelled(text, needle):
    with pytest.raises(InputError) as exc:
        check_extra_args(text)
    assert needle in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


@pytest.mark.parametrize("text", ["", "--unit-frames 48", "--batch-tokens 4096 -v", "--esm-revision main",
                                  "--min-region-length 500", "--precision fp32", "--worker-timeout=60 --compile off"])
def test_extra_args_of_the_users_own_flags_pass(text):
    check_extra_args(text)


def test_fp8_on_a_cpu_workflow_is_refused(wf):
    _refused(wf, "FP8", extra_args="--precision fp8")
    _refused(wf, "FP8", extra_args="--precision=fp8", device="cpu,cpu")
    assert _check(wf, extra_args="--precision fp8", device="cuda").device == "cuda"


# a) samples.tsv: inputs that every job of the sample would refuse

@pytest.mark.parametrize("cell,paired,needle", [
    ("a.fa,a.fa", "no", "twice"), ("a.fa,./a.fa", "no", "twice"), ("a.fa,link.fa", "yes", "twice"),
    ("a.fa,copy.fa", "yes", "same content"), ("a.fa,copy.fa", "no", "same content"),
    ("b.fa,sub/../a.fa,a.fa", "no", "twice"),
])
def test_samples_refuse_a_file_twice_or_its_copy(wf, cell, paired, needle):
    os.symlink(wf / "a.fa", wf / "link.fa")
    shutil.copy(wf / "a.fa", wf / "copy.fa")
    (wf / "sub").mkdir()
    (wf / "samples.tsv").write_text(f"sample\tpath\tpaired\ns1\tb.fa\tno\ns2\t{cell}\t{paired}\n")
    assert "line 3" in _refused(wf, needle)


def test_two_empty_files_are_not_a_copy(wf):
    (wf / "e1.fa").write_text("")
    (wf / "e2.fa").write_text("")
    (wf / "samples.tsv").write_text("sample\tpath\ns1\te1.fa,e2.fa\n")
    assert _check(wf).samples["s1"].paths == ["e1.fa", "e2.fa"]


# h) a path with a comma

def test_a_path_with_a_comma_is_written_in_quotes(wf):
    (wf / "x,1.fa").write_text(">q\nACGTTT\n")
    (wf / 'we"ird.fa').write_text(">w\nACGTTTT\n")
    (wf / "samples.tsv").write_text('sample\tpath\tpaired\ns1\t"x,1.fa",b.fa\tno\ns2\t"x,1.fa"\t"no"\n'
                                    's3\t"a.fa,b.fa"\tyes\ns4\t"we""ird.fa"\n"s5"\ta.fa\n')
    samples = _check(wf).samples
    assert samples["s1"].paths == ["x,1.fa", "b.fa"] and samples["s2"].paths == ["x,1.fa"]
    assert samples["s3"].paths == ["a.fa", "b.fa"] and samples["s3"].paired  # a cell a spreadsheet quoted whole
    assert samples["s4"].paths == ['we"ird.fa'] and samples["s5"].paths == ["a.fa"]


def test_an_unquoted_comma_path_is_explained(wf):
    (wf / "x,1.fa").write_text(">q\nACGTTT\n")
    (wf / "samples.tsv").write_text("sample\tpath\ns1\tx,1.fa\n")
    assert "double quotes" in _refused(wf, "not a file")
    (wf / "samples.tsv").write_text('sample\tpath\ns1\t"x,1.fa\n')
    _refused(wf, "unbalanced")


# i) dangerous outdirs

@pytest.mark.parametrize("outdir,needle", [("/", "root"), ("//", "root"), ("~", "home"), (".", "own directory"),
                                           ("..", "own directory"), ("data", "other files"), ("a.fa", "a file")])
def test_dangerous_outdir_is_refused(wf, monkeypatch, outdir, needle):
    monkeypatch.setenv("HOME", str(wf.parent / "home"))
    (wf.parent / "home").mkdir(exist_ok=True)
    (wf / "data").mkdir()
    (wf / "data" / "notes.txt").write_text("mine")
    _refused(wf, needle, outdir=outdir)


def test_new_empty_or_own_outdir_is_accepted(wf):
    assert _check(wf, outdir="results").outdir == "results"
    (wf / "empty").mkdir()
    assert _check(wf, outdir="empty").outdir == "empty"
    (wf / "old" / ".virnucpro").mkdir(parents=True)
    (wf / "old" / "notes.txt").write_text("x")
    assert _check(wf, outdir="old").outdir == "old"


# b) a touched input is the same input; a changed one is refused (merged run and shards alike)

def _finish(run_dir: Path, inp: Path) -> None:
    from virnucpro.records import write_info

    run_dir.mkdir(parents=True)
    write_info(run_dir / "run_info.json", {"status": "complete", "input": {
        "path": str(inp), "bytes": inp.stat().st_size, "sha256": __import__("hashlib").sha256(
            inp.read_bytes()).hexdigest()}})


@pytest.mark.parametrize("where", ["results/s1", "results/.virnucpro/shards/s1/2"])
def test_touch_is_no_change_but_new_content_is(wf, where):
    _finish(wf / where, wf / "a.fa")
    future = (wf / "a.fa").stat().st_mtime + 3600
    os.utime(wf / "a.fa", (future, future))
    _check(wf)
    (wf / "a.fa").write_text(">r1\nACGTACGA\n")  # same size, other bytes
    os.utime(wf / "a.fa", (future, future))
    _refused(wf, "changed after its finished run")


def test_shard_jobs_do_not_rerun_on_input_dates():
    snakefile = (ROOT / "src" / "virnucpro" / "data" / "workflow" / "Snakefile").read_text()
    assert "reads=lambda wc: [ancient(p) for p in SAMPLES[wc.sample][0]]" in snakefile


# e) merge: a list of shard directories or their parent

def test_shard_directories_from_a_parent_and_a_list(tmp_path, monkeypatch):
    import io

    from virnucpro.pipeline.shard_list import shard_directories

    parent = tmp_path / "shards"
    for name in ("10", "2", "1", "merged", "logs"):
        (parent / name).mkdir(parents=True)
        if name != "logs":
            (parent / name / "run_info.json").write_text("{}")
    got = shard_directories([parent], output=parent / "merged")
    assert [p.name for p in got] == ["1", "2", "10"]
    listing = tmp_path / "list.txt"
    listing.write_text("# shards\n\n" + "\n".join(str(parent / n) for n in ("2", "1")) + "\n")
    assert shard_directories([], listing) == [parent / "2", parent / "1"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{parent / '10'}\n"))
    assert shard_directories([parent / "1"], Path("-")) == [parent / "1", parent / "10"]
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    with pytest.raises(InputError, match="no shard directory"):
        shard_directories([], tmp_path / "empty.txt")
    with pytest.raises(InputError, match="cannot be read"):
        shard_directories([], tmp_path / "missing.txt")


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory, tiny_model_args):
    """A small input cut into 2 shards (one CPU thread)."""
    from virnucpro.cli import main
    from virnucpro.testing.synthetic import write_reads

    root = tmp_path_factory.mktemp("shards")
    write_reads(root / "in.fa", 40, seed=11)
    for i in (1, 2):
        assert main(["predict", str(root / "in.fa"), "-o", str(root / "shards" / str(i)), "--shard", f"{i}/2",
                     "--unit-frames", "16", "--device", "cpu", "--threads", "1", "-q",
                     *map(str, tiny_model_args)]) == 0
    return root


def test_merge_takes_the_parent_or_a_shard_list(two_shards, tmp_path, run_cli):
    shards = two_shards / "shards"
    code, _, err = run_cli("merge", *sorted(shards.iterdir()), "-o", tmp_path / "named", "-q")
    assert code == 0, err
    code, _, err = run_cli("merge", shards, "-o", tmp_path / "parent", "-q")
    assert code == 0, err
    (tmp_path / "list").write_text("\n".join(str(p) for p in sorted(shards.iterdir())) + "\n")
    code, _, err = run_cli("merge", "--shard-list", tmp_path / "list", "-o", tmp_path / "listed", "-q")
    assert code == 0, err
    for name in ("prediction_results.txt", "sequences.tsv", "regions.tsv"):
        ref = (tmp_path / "named" / name).read_bytes()
        assert (tmp_path / "parent" / name).read_bytes() == ref == (tmp_path / "listed" / name).read_bytes()
    code, _, err = run_cli("merge", "-o", tmp_path / "none")
    assert code == 2 and "no shard directory" in one_error_line(err) and not (tmp_path / "none").exists()


# c) a finished CPU run's rerun with another thread count is a checked no-op

def test_finished_run_rerun_with_other_threads_is_a_no_op(two_shards, run_cli, tiny_model_args):
    shard = two_shards / "shards" / "1"
    before = (shard / "run_info.json").read_bytes()
    for threads in ("2", "0"):
        code, _, err = run_cli("predict", two_shards / "in.fa", "-o", shard, "--shard", "1/2", "--unit-frames", "16",
                               "--device", "cpu", "--threads", threads, *tiny_model_args)
        assert code == 0 and "already holds this run's results" in err, err
    assert (shard / "run_info.json").read_bytes() == before


def test_finished_run_still_refuses_other_parameters():
    from virnucpro.errors import ResumeError
    from virnucpro.pipeline.run_info import check_resumable, same_finished_run, same_run

    old = {"parameters": {"chunk_size": 500, "cpu_threads": 4}, "models": {}, "input": {"sha256": "x"}}
    new = {**old, "parameters": {"chunk_size": 500, "cpu_threads": 2}}
    assert same_finished_run(old, new) and not same_run(old, new)
    other = {**old, "parameters": {"chunk_size": 300, "cpu_threads": 2}}
    assert not same_finished_run(old, other)
    with pytest.raises(ResumeError, match="chunk_size"):
        check_resumable(old, other, Path("out"), complete=True)
    with pytest.raises(ResumeError, match="cpu_threads"):  # unfinished work: threads still must match
        check_resumable(old, new, Path("out"))


# d) an unreadable file is a read problem

def test_permission_error_on_an_unreadable_file_names_a_read(tmp_path, monkeypatch):
    import virnucpro.errors as errors

    target = tmp_path / "model.safetensors"
    target.write_bytes(b"x")
    real_open = os.open

    def deny(path, flags, *a):
        if str(path) == str(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(errors.os, "open", deny)
    msg = str(errors.describe_os_error(PermissionError(errno.EACCES, "Permission denied", str(target))))
    assert "reading" in msg and str(target) in msg and "write" not in msg
    out = tmp_path / "out" / "x"  # missing: a place to write
    msg = str(errors.describe_os_error(PermissionError(errno.EACCES, "Permission denied", str(out))))
    assert "write" in msg and "reading" not in msg


def _as_unprivileged() -> list[str] | None:
    """A command prefix under which file permissions apply (root drops its override capabilities)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    probe = subprocess.run([setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "true"], capture_output=True)
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"] if probe.returncode == 0 else None


UNPRIVILEGED_RUNS = """
import sys
from virnucpro.cli import main
for argv in sys.argv[1:]:
    main(argv.split("\\t"))
"""


def test_unreadable_input_or_model_is_named_as_a_read_problem(tmp_path, tiny_models):
    prefix = _as_unprivileged()
    if prefix is None:
        pytest.skip("cannot drop root's file-permission override here")
    good, locked = tmp_path / "in.fa", tmp_path / "locked"
    good.write_text(">r\n" + "ACGT" * 100 + "\n")
    locked.mkdir()
    shutil.copy(good, locked / "in.fa")
    shutil.copytree(tiny_models.esm_dir, locked / "esm")
    shutil.copy(tiny_models.classifier, locked / "c.pth")
    for p in (locked / "in.fa", locked / "esm" / "model.safetensors", locked / "c.pth"):
        p.chmod(0)
    models = {"--dnabert": tiny_models.dnabert_dir, "--esm": tiny_models.esm_dir,
              "--classifier": tiny_models.classifier}
    runs = []
    for k, (inp, flag, path) in enumerate([(locked / "in.fa", None, None), (good, "--esm", locked / "esm"),
                                           (good, "--classifier", locked / "c.pth")]):
        args = {**models, **({flag: path} if flag else {})}
        runs.append("\t".join(map(str, ["predict", inp, "-o", tmp_path / f"out{k}", "--offline", "--device", "cpu",
                                        *[x for kv in args.items() for x in kv]])))
    proc = subprocess.run([*prefix, sys.executable, "-c", UNPRIVILEGED_RUNS, *runs], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 3 and "Traceback" not in proc.stderr, proc.stderr
    for line, name in zip(lines, ("in.fa", "model.safetensors", "c.pth")):
        assert "permission denied reading" in line and name in line and "write" not in line, line


# f) exit code 5 is documented

def test_every_exit_code_is_in_the_readme():
    from virnucpro.errors import EXIT_CODES, WorkerError

    readme = (ROOT / "README.md").read_text()
    sentence = " ".join(readme[readme.index("Exit codes:"):].split("\n\n")[0].split())
    for code in EXIT_CODES:
        assert f" {code} " in sentence or f"{code}/" in sentence or f"/{code} " in sentence, code
    assert WorkerError("worker on cuda:0 died").exit_code == 5 in EXIT_CODES


# g) a full disk while spooling names the spool

# j) report on a directory without a run creates nothing

def test_report_without_a_run_creates_nothing(tmp_path, run_cli):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("x")
    code, _, err = run_cli("report", tmp_path / "d")
    assert code == 2 and "no finished predict run" in one_error_line(err)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["notes.txt"]


# k) train: a class too small to split; metrics.json always JSON

def _one_record(path: Path, seed: int) -> Path:
    r = random.Random(seed)
    path.write_text(">s\n" + "".join(r.choice(CODONS) for _ in range(100)) + "\n")
    return path


def test_a_class_with_one_frame_is_refused(tmp_path):
    from virnucpro.training.frames import class_frames

    with pytest.raises(InputError, match="1 usable frame") as exc:
        class_frames("viral", [str(_one_record(tmp_path / "one.fa", 1))], 300)
    assert "\n" not in str(exc.value)
    assert len(class_frames("viral", [str(_one_record(tmp_path / "two.fa", 0))], 300).ids) == 2


def test_metrics_without_a_value_are_null_json_and_shown_as_undefined():
    from virnucpro.report.training_page import _value
    from virnucpro.training.metrics import binary_metrics, json_safe, undefined

    final = binary_metrics([1, 1, 1], [0.9, 0.2, 0.7])  # held-out frames of one class: no AUROC
    assert undefined(final) == ["auroc"]
    text = json.dumps(json_safe({"final": final, "epochs": [final, {"x": float("inf")}]}), allow_nan=False)
    assert json.loads(text)["final"]["auroc"] is None
    assert _value(float("nan")).startswith("undefined") and _value(None).startswith("undefined")
    assert _value(0.5) == "0.5000"


def _train_args(tiny_model_args) -> list:
    return [a for a in tiny_model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]


def test_train_with_a_tiny_class_writes_valid_json(tmp_path, run_cli, tiny_model_args):
    from virnucpro.testing.genbank import write_genbank

    write_genbank(tmp_path / "other.gbk", 6, gc=0.32, seed=2, prefix="oth")
    code, _, err = run_cli("train", "--viral", _one_record(tmp_path / "v.fa", 0), "--other", tmp_path / "other.gbk",
                           "--chunk-size", 300, "-o", tmp_path / "out", *_train_args(tiny_model_args), "--device",
                           "cpu", "--max-epochs", 3)
    assert code == 0, err

    def no_constants(name):
        raise AssertionError(f"{name} in metrics.json")

    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(), parse_constant=no_constants)
    # 2 viral frames, none of them held out: no AUROC
    assert metrics["final"]["auroc"] is None and "undefined (null in metrics.json)" in err
    code, _, err = run_cli("train", "--viral", _one_record(tmp_path / "v1.fa", 1), "--other", tmp_path / "other.gbk",
                           "--chunk-size", 300, "-o", tmp_path / "out1", *_train_args(tiny_model_args), "--device",
                           "cpu")
    assert code == 2 and "1 usable frame" in one_error_line(err) and not (tmp_path / "out1").exists()


# l) train: a compressed copy is the same file

@pytest.mark.parametrize("how", ["gzip", "bz2", "lzma"])
def test_train_sees_a_compressed_copy_as_the_same_file(tmp_path, run_cli, tiny_model_args, how):
    import bz2
    import lzma

    from virnucpro.testing.genbank import write_genbank

    write_genbank(tmp_path / "v.gbk", 4, gc=0.68, seed=1, prefix="vir")
    write_genbank(tmp_path / "o.gbk", 4, gc=0.32, seed=2, prefix="oth")
    packed = tmp_path / "copy.gbk.z"
    packed.write_bytes({"gzip": gzip, "bz2": bz2, "lzma": lzma}[how].compress((tmp_path / "v.gbk").read_bytes()))
    code, _, err = run_cli("train", "--viral", tmp_path / "v.gbk", "--other", tmp_path / "o.gbk", packed,
                           "--chunk-size", 300, "-o", tmp_path / "out", *_train_args(tiny_model_args), "--device",
                           "cpu")
    assert code == 2 and "same content" in one_error_line(err), err


def test_content_sha256_of_a_file_and_its_copies(tmp_path):
    from virnucpro.io.repeated import content_sha256

    plain = tmp_path / "a.fa"
    plain.write_bytes(b">r\nACGT\n")
    (tmp_path / "a.fa.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert content_sha256(str(plain)) == content_sha256(str(tmp_path / "a.fa.gz"))
    (tmp_path / "b.fa").write_bytes(b">r\nACGA\n")
    assert content_sha256(str(tmp_path / "b.fa")) != content_sha256(str(plain))
