"""Second hostile pass of issue 20: each test is one attack that used to give exit 0, a hang or a
traceback with damaged, missing or misdirected data; now it must stop with one clear line."""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import one_error_line

SEQS = ">a\nATGGCGTTAGCCGATCGTAGCTAGGCTAGCTAGGATCGATCGGGCTAAATTTCCCGGGATATATGCGC\n" \
       ">b\nATGCCCAAATTTGGGTTTAAACCCGGGAAATTTCCCGGGTTTAAACCCATGATGATGCGCGCGTATA\n"


def _train_args(model_args):
    return [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]


def _train(run_cli, model_args, tmp_path, viral, other):
    return run_cli("train", "--viral", *viral, "--other", *other, "--chunk-size", 300, "-o", tmp_path / "out",
                   *_train_args(model_args), "--device", "cpu", "--max-epochs", 1, "-q")


@pytest.mark.parametrize("layout", ["same_path", "copy", "symlink", "twice_in_one_class"])
def test_hostile_train_with_one_file_in_both_classes_is_refused(tmp_path, run_cli, model_args, layout):
    a = tmp_path / "a.fa"
    a.write_text(SEQS)
    other = {"same_path": a, "copy": tmp_path / "copy.fa", "symlink": tmp_path / "link.fa"}.get(layout)
    if layout == "copy":
        shutil.copy(a, other)
    elif layout == "symlink":
        other.symlink_to(a)
    if layout == "twice_in_one_class":
        b = tmp_path / "b.fa"
        b.write_text(SEQS.replace(">a", ">c").replace(">b", ">d")[:-3] + "CG\n")
        code, _, err = _train(run_cli, model_args, tmp_path, [a, a], [b])
    else:
        code, _, err = _train(run_cli, model_args, tmp_path, [a], [other])
    assert code == 2 and "same content" in one_error_line(err), err
    assert not (tmp_path / "out" / "classifier.safetensors").exists()


def test_hostile_train_from_a_fifo_is_refused_not_hung(tmp_path, run_cli, model_args):
    a, fifo = tmp_path / "a.fa", tmp_path / "fifo.fa"
    a.write_text(SEQS)
    os.mkfifo(fifo)
    code, _, err = _train(run_cli, model_args, tmp_path, [fifo], [a])  # never opened: no writer needed
    assert code == 2 and "not a regular file" in one_error_line(err), err


@pytest.mark.parametrize("record", ["{}", "[1, 2]", '{"command": 5}', "{trunc"])
def test_hostile_predict_into_a_prepare_run_with_an_edited_run_info(tmp_path, run_cli, model_args, record):
    fa = tmp_path / "in.fa"
    fa.write_text(SEQS)
    prep = tmp_path / "prep"
    assert run_cli("prepare", fa, "-o", prep, "--chunk-size", 300, "-q")[0] == 0
    (prep / "run_info.json").write_text(record)  # the record edited away: the files are still prepare's
    kept = {p.name: p.read_bytes() for p in prep.glob("*.fa*")}
    code, _, err = run_cli("predict", fa, "-o", prep, *model_args, "--chunk-size", 300, "--device", "cpu", "-q")
    assert code == 2 and "`virnucpro prepare` run" in one_error_line(err), err
    assert {p.name: p.read_bytes() for p in prep.glob("*.fa*")} == kept


def test_hostile_prepare_into_a_predict_run_with_an_edited_run_info(tmp_path, run_cli):
    fa, run = tmp_path / "in.fa", tmp_path / "run"
    fa.write_text(SEQS)
    run.mkdir()
    (run / "sequences.tsv").write_text("seq_id\n")
    (run / "run_info.json").write_text("{}")
    code, _, err = run_cli("prepare", fa, "-o", run, "--chunk-size", 300, "-q")
    assert code == 2 and "`virnucpro predict` run" in one_error_line(err), err
    assert not (run / "chunks.fa").exists()


@pytest.mark.parametrize("name", ["summary.tsv", "summary.html", "Summary.TSV"])
def test_hostile_workflow_sample_named_like_the_summary_is_refused(tmp_path, name):
    from virnucpro.errors import InputError
    from virnucpro.workflow.config import validate_workflow

    (tmp_path / "a.fa").write_text(">r\nACGT\n")
    (tmp_path / "samples.tsv").write_text(f"sample\tpath\n{name}\ta.fa\n")
    config = {"samples": "samples.tsv", "outdir": "results", "shards": 1, "chunk_size": 500, "device": "cpu",
              "threads": 1, "dnabert": "d", "esm": "e", "classifier": "", "model_dir": "", "extra_args": ""}
    with pytest.raises(InputError, match="rename the sample"):
        validate_workflow(config, tmp_path)  # OUT/summary.tsv would be both a file and the sample's directory


def test_hostile_predict_where_run_info_is_a_directory_names_it(tmp_path, run_cli, model_args):
    fa, out = tmp_path / "in.fa", tmp_path / "out"
    fa.write_text(SEQS)
    (out / "run_info.json").mkdir(parents=True)
    code, _, err = run_cli("predict", fa, "-o", out, *model_args, "--chunk-size", 300, "--device", "cpu", "-q")
    line = one_error_line(err)
    assert code == 2 and str(out / "run_info.json") + "'" in line and ".tmp-" not in line, err
    assert not list(out.glob(".run_info.json.tmp-*"))


@pytest.mark.parametrize("suffix,tool", [(".zst", "zstd -t"), (".gz", "gzip -t")])
def test_hostile_truncated_compressed_input_names_its_own_checker(tmp_path, run_cli, suffix, tool):
    import gzip

    import zstandard

    data = (SEQS * 200).encode()
    packed = zstandard.ZstdCompressor().compress(data) if suffix == ".zst" else gzip.compress(data)
    cut = tmp_path / f"in.fa{suffix}"
    cut.write_bytes(packed[: len(packed) // 2])
    code, _, err = run_cli("prepare", cut, "-o", tmp_path / "out", "--chunk-size", 300, "-q")
    assert code == 2 and f"`{tool}`" in one_error_line(err), err


def test_hostile_truncated_compressed_genbank_names_its_own_checker(tmp_path):
    import lzma

    from virnucpro.errors import InputError
    from virnucpro.io.genbank import read_genbank
    from virnucpro.testing.genbank import write_genbank

    write_genbank(tmp_path / "a.gbk", 4, gc=0.5, seed=1, prefix="a")
    packed = lzma.compress((tmp_path / "a.gbk").read_bytes())
    (tmp_path / "a.gbk.xz").write_bytes(packed[:-30] + packed[-30:].replace(b"YZ", b"QQ"))
    with pytest.raises(InputError, match="xz -t"):
        list(read_genbank(str(tmp_path / "a.gbk.xz")))


@pytest.mark.parametrize("command", ["prepare", "predict", "extract", "merge", "merge-shard", "train", "workflow",
                                     "report", "download-model-dir"])
def test_hostile_empty_output_path_is_refused_not_the_current_directory(tmp_path, run_cli, capsys, monkeypatch,
                                                                         command):
    fa = tmp_path / "in.fa"
    fa.write_text(SEQS)
    monkeypatch.chdir(tmp_path)  # what an empty -o used to name
    args = {"prepare": ["prepare", fa, "-o", ""], "predict": ["predict", fa, "-o", ""],
            "extract": ["extract", fa, "-o", ""], "merge": ["merge", tmp_path, "-o", ""],
            "merge-shard": ["merge", "", "-o", tmp_path / "m"], "train": ["train", "--viral", fa, "--other", fa,
                                                                        "-o", ""],
            "workflow": ["workflow", ""], "report": ["report", ""],
            "download-model-dir": ["download", "--model-dir", ""]}[command]
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as exc:  # refused by the parser: one line, exit 2
        run_cli(*args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "empty path" in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_hostile_predict_over_its_own_run_with_a_foreign_json_record_is_refused(tmp_path, run_cli, model_args,
                                                                                 golden_dir):
    """run_info.json replaced by valid JSON that is no virnucpro record ({"command": 5}): refused like a truncated
    record, never recomputed over without --force."""
    out = tmp_path / "out"
    assert run_cli("predict", golden_dir / "input.fa", "-o", out, *model_args, "--device", "cpu", "-q")[0] == 0
    (out / "run_info.json").write_text('{"command": 5}')
    before = (out / "prediction_results.txt").read_bytes()
    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", out, *model_args, "--device", "cpu")
    assert code == 2 and "run_info.json" in err
    assert (out / "prediction_results.txt").read_bytes() == before
