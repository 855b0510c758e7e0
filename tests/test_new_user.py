"""What a new user meets first: the set-up text, hints that point the right way, help texts, the workflow's
samples.tsv template (issue 24, items 1, 5 and 6). Fast: tiny models, tiny inputs, nothing downloaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from virnucpro.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CONTIG = ">c1\n" + "ATGAAACCCGGGTTTAAACCCGGGTTTAAACCCGGGTTTAAACCCGGGTTTAAA" * 4 + "\n"


def _fasta(path: Path, text: str = CONTIG) -> Path:
    path.write_text(text)
    return path


def _help(capsys, *command: str) -> str:
    """`virnucpro COMMAND --help`, whitespace-normalised (argparse wraps at the terminal width)."""
    from virnucpro.cli import main

    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def _between(text: str, start: str, end: str) -> str:
    """The help text from `start` (a flag entry) to `end` (the next entry), after the usage lines."""
    i = text.index(start, text.index("options:"))
    return text[i: text.index(end, i + len(start))]


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# Item 1: set-up ---------------------------------------------------------------------------------------------

def _setup_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Set up on a fresh machine")
    return text[start: text.index("\n## ", start)]  # up to the next section


def test_readme_setup_says_cpu_index_workflow_extra_and_download_size():
    setup = _setup_section()
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in setup
    assert 'pip install ".[workflow]"' in setup
    assert re.search(r"about 12 GB", setup) and "esm2_t36_3B_UR50D" in setup and "virnucpro download" in setup
    # the two set-up commands, exactly as .ci/run and the first-time user run them
    assert "pip install . && virnucpro predict examples/example.fa -o example_out" in setup
    assert 'pip install -e ".[test]" && python -m pytest' in setup
    assert 'pip install -e ".[test]" && python -m pytest' in (ROOT / ".ci" / "run").read_text()
    assert (ROOT / "examples" / "example.fa").is_file()
    # the CPU advice comes before the main job, not after it
    assert setup.index("whl/cpu") < setup.index("pip install . &&")


def test_workflow_readme_installs_the_extra_from_the_checkout():
    text = (ROOT / "src" / "virnucpro" / "data" / "workflow" / "README.md").read_text()
    assert "virnucpro[workflow]" not in text and '".[workflow]"' in text


# Item 5: hints that point the right way ------------------------------------------------------------------------

def test_check_precision_on_cpu_does_not_say_drop_a_flag_it_was_not_given(tmp_path, run_cli, model_args):
    code, _, err = run_cli("check-precision", _fasta(tmp_path / "c.fa"), *model_args, "--device", "cpu")
    line = _error_line(err)
    assert code == 2 and "check-precision" in line and "8.9" in line and "drop --precision" not in line


def test_predict_fp8_on_cpu_still_says_drop_the_flag(tmp_path, run_cli, model_args):
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *model_args, "--device", "cpu",
                           "--precision", "fp8")
    assert code == 2 and "drop --precision fp8" in _error_line(err)


@pytest.mark.parametrize("cuda_version, needle, wrong", [
    ("12.8", "no GPU or driver is visible", "install a CUDA build"),
    (None, "CPU-only build", "no GPU or driver is visible"),
])
def test_device_cuda_without_gpu_tells_which_torch(monkeypatch, cuda_version, needle, wrong):
    import torch

    from virnucpro.pipeline.devices import resolve_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", cuda_version)
    monkeypatch.setattr(torch.version, "hip", None)
    for entries in (["cuda"], ["cuda:1"], ["cuda:0", "cuda:1"]):
        with pytest.raises(InputError) as exc:
            resolve_devices(entries)
        assert needle in str(exc.value) and wrong not in str(exc.value) and "--device cpu" in str(exc.value)


def test_device_cuda_without_gpu_on_the_command_line(tmp_path, run_cli, model_args):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *model_args, "--device", "cuda")
    line = _error_line(err)
    assert code == 2 and ("CPU-only build" in line if not torch.version.cuda else "no GPU or driver" in line)


@pytest.mark.parametrize("command", ["predict", "prepare"])
def test_same_file_given_twice_is_named_not_paired(tmp_path, run_cli, model_args, command):
    src = _fasta(tmp_path / "contigs.fa")
    extra = model_args if command == "predict" else []
    for second in (src, tmp_path / "." / "contigs.fa"):
        code, _, err = run_cli(command, src, second, "-o", tmp_path / "o", *extra)
        line = _error_line(err)
        assert code == 2 and "given twice" in line and "--paired" not in line
        assert not (tmp_path / "o" / "run_info.json").exists()


def test_same_file_through_a_link_or_a_copy_is_named_not_paired(tmp_path, run_cli, model_args):
    src = _fasta(tmp_path / "contigs.fa")
    (tmp_path / "link.fa").symlink_to(src)
    code, _, err = run_cli("predict", src, tmp_path / "link.fa", "-o", tmp_path / "o", *model_args)
    assert code == 2 and "given twice" in _error_line(err) and "--paired" not in err
    copy = _fasta(tmp_path / "copy.fa")
    code, _, err = run_cli("predict", src, copy, "-o", tmp_path / "o", *model_args)
    line = _error_line(err)
    assert code == 2 and "same content" in line and "copy.fa" in line and "--paired" not in line


def test_duplicate_ids_in_different_files_still_point_at_paired(tmp_path, run_cli, model_args):
    a = _fasta(tmp_path / "r_1.fa", ">r1\n" + "ACGT" * 40 + "\n")
    b = _fasta(tmp_path / "r_2.fa", ">r1\n" + "TTGA" * 40 + "\n")
    code, _, err = run_cli("predict", a, b, "-o", tmp_path / "o", *model_args)
    line = _error_line(err)
    assert code == 2 and "duplicate sequence ID 'r1'" in line and "--paired" in line and "rename" in line


def test_duplicate_ids_after_paired_do_not_suggest_paired_again(tmp_path):
    from virnucpro.io.seqio import read_inputs

    text = "".join(f"@r0 {1 + k % 2}:N\nACGTACGT\n+\nIIIIIIII\n" for k in range(4))
    src = _fasta(tmp_path / "inter.fq", text)  # the pair r0 given twice: r0/1 r0/2 r0/1 r0/2
    with pytest.raises(InputError) as exc:
        list(read_inputs([str(src)], paired=True))
    assert "duplicate sequence ID 'r0/1'" in str(exc.value) and "pass --paired" not in str(exc.value)


@pytest.mark.parametrize("given, flag", [
    ([], "--dnabert DIR"),
    (["dnabert"], "--esm DIR"),
    (["dnabert", "esm"], "--classifier FILE"),
])
def test_offline_error_names_the_flag_that_takes_a_local_copy(tmp_path, run_cli, tiny_models, given, flag):
    local = {"dnabert": ["--dnabert", tiny_models.dnabert_dir], "esm": ["--esm", tiny_models.esm_dir]}
    args = [a for name in given for a in local[name]]
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *args, "--offline",
                           "--model-dir", tmp_path / "empty_cache", "--device", "cpu")
    line = _error_line(err)
    assert code == 2 and flag in line and "virnucpro download" in line


def test_download_fix_without_a_known_model_names_every_flag():
    from virnucpro.models.download_errors import describe

    class LocalEntryNotFoundError(Exception):
        pass

    _, fix = describe(LocalEntryNotFoundError("offline"))
    assert all(f in fix for f in ("--dnabert", "--esm", "--classifier"))
    _, fix = describe(LocalEntryNotFoundError("offline"), flag="--esm DIR")
    assert "--esm DIR" in fix and "--dnabert" not in fix


def test_classifier_warning_never_comes_before_an_input_error(tmp_path, run_cli, model_args):
    binary = tmp_path / "x.fa"
    binary.write_bytes(bytes(range(256)) * 4)
    for bad in (tmp_path / "missing.fa", binary):
        code, _, err = run_cli("predict", bad, "-o", tmp_path / "o", *model_args)
        assert code == 2 and "records no chunk size" not in err, err


def test_classifier_warning_never_comes_before_an_output_dir_error(tmp_path, run_cli, model_args):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "prediction_results.txt").write_text("someone else's\n")
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *model_args)
    assert code == 2 and "records no chunk size" not in err and "--force" in _error_line(err)


def test_classifier_warning_still_said_for_a_good_input(tmp_path, run_cli, model_args):
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *model_args)
    assert code == 0 and err.count("records no chunk size") == 1
    assert "records no chunk size" in (tmp_path / "o" / "virnucpro.log").read_text()


@pytest.mark.parametrize("extra", [[], ["--keep-intermediate"]])
def test_empty_record_warning_is_said_once(tmp_path, run_cli, model_args, extra):
    src = _fasta(tmp_path / "c.fa", CONTIG + ">empty\n\n" + CONTIG.replace("c1", "c2"))
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args, *extra)
    assert code == 0 and err.count("skipped 1 empty record(s)") == 1, err


def test_check_precision_sample_warns_empty_records_once(tmp_path):
    import logging

    from virnucpro.commands.check_precision import CheckConfig, sample_frames

    src = _fasta(tmp_path / "c.fa", CONTIG + ">empty\n\n" + CONTIG.replace("c1", "c2"))
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())
    logger = logging.getLogger("virnucpro")
    logger.addHandler(handler)
    try:
        sample = sample_frames(CheckConfig(inputs=[str(src)], frames=1_000_000))  # reads the input twice
    finally:
        logger.removeHandler(handler)
    assert sample.ids and sum("skipped 1 empty record(s)" in m for m in said) == 1, said


def test_rna_warning_is_said_once(tmp_path, run_cli, model_args):
    src = _fasta(tmp_path / "c.fa", CONTIG.replace("T", "U"))
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args)
    assert code == 0 and err.count("read U as T") == 1, err


def test_benchmark_on_cpu_devices_warns_and_promises_no_resume(monkeypatch, run_cli):
    from virnucpro.benchmarking import scaling
    from virnucpro.errors import Stopped

    def stopped(*_args, **_kw):
        raise Stopped("SIGTERM", 143)

    monkeypatch.setattr(scaling, "run_scaling", stopped)
    code, _, err = run_cli("benchmark", "--devices", "cpu,cpu", "--reads-per-device", "10")
    assert code == 143
    assert "full-size ESM-2 3B" in err and "24 GB" in err
    assert "resume" not in err and "again from the start" in err


def test_benchmark_worker_failure_promises_no_resume(monkeypatch, run_cli):
    from virnucpro.benchmarking import scaling
    from virnucpro.errors import WorkerError

    def failed(*_args, **_kw):
        raise WorkerError("worker 0 (cpu) died", 5)

    monkeypatch.setattr(scaling, "run_scaling", failed)
    code, _, err = run_cli("benchmark", "--devices", "cpu", "--reads-per-device", "10")
    line = _error_line(err)
    assert code == 5 and "worker 0 (cpu) died" in line and "resume" not in line and "committed" not in line


# Item 6: help texts ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["extract", "train"])
def test_encoder_only_commands_do_not_list_classifier(capsys, command):
    assert "--classifier CLASSIFIER" not in _help(capsys, command)  # train's description may name predict's


def test_predict_and_check_precision_still_list_classifier(capsys):
    for command in ("predict", "check-precision"):
        assert "--classifier CLASSIFIER" in _help(capsys, command)


def test_extract_with_classifier_is_accepted_and_warned(tmp_path, run_cli, tiny_model_args):
    code, _, err = run_cli("extract", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *tiny_model_args,
                           "--device", "cpu")
    assert code == 0 and "--classifier" in err and "is not used" in err


def test_prepare_threads_help_is_not_about_encoders(capsys):
    text = _between(_help(capsys, "prepare"), "--threads THREADS", "--force")
    assert "encoder" not in text and "decompress" in text


@pytest.mark.parametrize("command, needle", [
    ("download", "about 12 GB"),
    ("workflow", "samples.tsv"),
    ("benchmark", "random weights"),
])
def test_commands_have_a_description(capsys, command, needle):
    text = _help(capsys, command)
    usage_end = text.index("options:") if "options:" in text else len(text)
    assert needle in text[:usage_end], text[:400]


@pytest.mark.parametrize("command", ["predict", "extract"])
def test_force_help_says_what_it_removes(capsys, command):
    text = _between(_help(capsys, command), "--force ", "-q, --quiet")
    assert "overwrite" not in text and "earlier run" in text and "left alone" in text


def test_workflow_force_help_spares_samples(capsys):
    text = _between(_help(capsys, "workflow"), "--force ", "-q, --quiet")
    assert "samples.tsv" in text and "never" in text


# Item 6: the samples.tsv template ----------------------------------------------------------------------------

def test_workflow_writes_a_samples_template_that_asks_for_samples(tmp_path, run_cli):
    from virnucpro.workflow.config import read_samples

    wf = tmp_path / "wf"
    assert run_cli("workflow", wf)[0] == 0
    template = wf / "samples.tsv"
    assert "sample\tpath\tpaired" in template.read_text()
    with pytest.raises(InputError) as exc:
        read_samples(template)
    assert "lists no sample yet" in str(exc.value)


def test_samples_template_example_rows_work_once_uncommented(tmp_path, run_cli):
    from virnucpro.workflow.config import read_samples

    wf = tmp_path / "wf"
    assert run_cli("workflow", wf)[0] == 0
    text = (wf / "samples.tsv").read_text()
    examples = [ln for ln in text.splitlines() if ln.startswith("# ") and "\t" in ln]
    assert len(examples) >= 2
    for k, line in enumerate(examples):
        for j, path in enumerate(line[2:].split("\t")[1].split(",")):
            (wf / path).parent.mkdir(parents=True, exist_ok=True)
            _fasta(wf / path, CONTIG.replace("c1", f"s{k}_{j}"))  # mate files differ: one content twice is refused
    (wf / "samples.tsv").write_text("".join(ln[2:] + "\n" if ln in examples else ln + "\n"
                                            for ln in text.splitlines()))
    samples = read_samples(wf / "samples.tsv", wf)
    assert len(samples) == len(examples) and any(s.paired for s in samples.values())


def test_workflow_never_overwrites_samples_tsv(tmp_path, run_cli):
    wf = tmp_path / "wf"
    wf.mkdir()
    mine = "sample\tpath\ns1\tdata/s1.fa\n"
    (wf / "samples.tsv").write_text(mine)
    assert run_cli("workflow", wf)[0] == 0
    assert (wf / "samples.tsv").read_text() == mine and (wf / "Snakefile").exists()
    assert run_cli("workflow", wf, "--force")[0] == 0
    assert (wf / "samples.tsv").read_text() == mine


def test_samples_errors_name_the_file_line_after_comments(tmp_path):
    from virnucpro.workflow.config import read_samples

    (tmp_path / "a.fa").write_text(">r\nACGT\n")
    (tmp_path / "samples.tsv").write_text("# note\nsample\tpath\n# a comment\n\ns1\ta.fa\ns2\tmissing.fa\n")
    with pytest.raises(InputError) as exc:
        read_samples(tmp_path / "samples.tsv", tmp_path)
    assert "line 6" in str(exc.value) and "missing.fa" in str(exc.value)


@pytest.mark.parametrize("flags, says", [
    (["--chunk-size", "400"], "no published classifier for --chunk-size 400"),
    (["--precision", "fp8", "--device", "cpu"], "fp8"),
])
def test_argument_problems_are_said_before_any_model_is_fetched(tmp_path, run_cli, flags, says):
    """With no model cached and downloads off, a bad argument is named, not the missing models: online, the same
    order means no 12 GB download before the refusal."""
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", *flags, "--offline",
                           "--model-dir", tmp_path / "empty_cache")
    line = _error_line(err)
    assert code == 2 and says in line and "virnucpro download" not in line, line


def test_a_device_torch_does_not_see_is_said_before_any_model_is_fetched(tmp_path, run_cli, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", "--device", "cuda:0",
                           "--offline", "--model-dir", tmp_path / "empty_cache")
    line = _error_line(err)
    assert code == 2 and "cuda:0" in line and "virnucpro download" not in line, line


def test_swapped_encoder_flags_are_named_as_swapped(tmp_path, run_cli, tiny_models):
    """--dnabert given the ESM-2 directory (and --esm the DNABERT-S one): the error says they were swapped, not that
    a file is missing and a download would help."""
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", "--dnabert",
                           tiny_models.esm_dir, "--esm", tiny_models.dnabert_dir, "--classifier",
                           tiny_models.classifier, "--offline", "--device", "cpu")
    line = _error_line(err)
    assert code == 2 and "holds an ESM-2 model" in line and "swapped" in line and "download" not in line, line
    assert not (tmp_path / "o").exists()
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", "--esm",
                           tiny_models.dnabert_dir, "--dnabert", tiny_models.dnabert_dir, "--classifier",
                           tiny_models.classifier, "--offline", "--device", "cpu")
    line = _error_line(err)
    assert code == 2 and "holds a DNABERT-S model" in line and "--dnabert" in line, line


def test_a_protein_fasta_is_refused_naming_the_records(tmp_path, run_cli, model_args):
    one = _fasta(tmp_path / "one.fa", ">p1\nMKVLAAGIVGLLLAAQPAMAEEKTWLPSQRR\n")
    code, _, err = run_cli("predict", one, "-o", tmp_path / "o1", *model_args)
    line = _error_line(err)
    assert code == 2 and "looks like protein" in line and "record 1 ('p1')" in line and "1-1" not in line, line
    two = _fasta(tmp_path / "two.fa", ">p1\nMKVLAAGIVGLLLAAQPAMAEEKTWLPSQRR\n>p2\nMSTRPQWEEKKLLIIVVF\n")
    code, _, err = run_cli("predict", two, "-o", tmp_path / "o2", *model_args)
    line = _error_line(err)
    assert code == 2 and "records 1-2 (first: 'p1')" in line, line


def test_a_text_file_given_as_input_is_one_short_line(tmp_path, run_cli, model_args):
    """The parser quotes the offending input line: a long one is cut, so the error stays one readable line."""
    text = _fasta(tmp_path / "notes.fa", "# notes\n\n" + "A sentence about viruses, far longer than any quote. " * 8 + "\n")
    code, _, err = run_cli("predict", text, "-o", tmp_path / "o", *model_args)
    line = _error_line(err)
    assert code == 2 and "not valid FASTA/FASTQ" in line and "...'" in line and len(line) < 300, line
    assert ".)" not in line, line


@pytest.mark.parametrize("flag, given, says", [("--dnabert", "esm_dir", "holds an ESM-2 model"),
                                                ("--esm", "dnabert_dir", "holds a DNABERT-S model")])
def test_one_encoder_flag_given_the_other_model_is_named_before_any_download(tmp_path, run_cli, tiny_models, flag,
                                                                             given, says):
    """Only one flag given (the other model from the hub): the swap is named before the other model is fetched."""
    code, _, err = run_cli("predict", _fasta(tmp_path / "c.fa"), "-o", tmp_path / "o", flag,
                           getattr(tiny_models, given), "--offline", "--model-dir", tmp_path / "empty_cache",
                           "--device", "cpu")
    line = _error_line(err)
    assert code == 2 and says in line and "virnucpro download" not in line, line
