"""Input handling: compression, stdin, FASTQ, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import bz2
import gzip
import lzma
import subprocess
import sys

import pytest

from virnucpro.io.duplicates import DuplicateChecker
from virnucpro.io.seqio import read_batches

FASTA = ">a desc\nATGAAACCCGGG\n>b\nTTTGGGCCCAAA\n"


def _prepare(run_cli, path, out):
    return run_cli("prepare", path, "-o", out)


@pytest.mark.parametrize("suffix,compress", [(".fa", lambda b: b), (".fa.gz", gzip.compress),
                                             (".fa.bz2", bz2.compress), (".fa.xz", lzma.compress)])
def test_compressed_inputs(tmp_path, run_cli, suffix, compress):
    src = tmp_path / f"in{suffix}"
    src.write_bytes(compress(FASTA.encode()))
    code, _, err = _prepare(run_cli, src, tmp_path / "o")
    assert code == 0, err
    assert (tmp_path / "o" / "chunks.fa").read_text() == ">a_chunk_1\nATGAAACCCGGG\n>b_chunk_1\nTTTGGGCCCAAA\n"


def test_zstd_input(tmp_path, run_cli):
    zstandard = pytest.importorskip("zstandard")
    src = tmp_path / "in.fa.zst"
    src.write_bytes(zstandard.ZstdCompressor().compress(FASTA.encode()))
    assert _prepare(run_cli, src, tmp_path / "o")[0] == 0


def test_gzipped_fastq_on_stdin_via_python_m(tmp_path):
    fq = "@a 1:N\nATGAAACCCGGG\n+\nIIIIIIIIIIII\n@b\nTTTGGGCCCAAA\n+\nIIIIIIIIIIII\n"
    proc = subprocess.run([sys.executable, "-m", "virnucpro", "prepare", "-", "-o", str(tmp_path / "o")],
                          input=gzip.compress(fq.encode()), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "chunks.fa").read_text().startswith(">a_chunk_1\nATGAAACCCGGG\n")


def test_plain_fasta_on_stdin_matches_golden(golden_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "virnucpro", "prepare", "-", "-o", str(tmp_path / "o")],
                          input=(golden_dir / "input.fa").read_bytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("identified_nucleotide.fa", "identified_protein.faa"):
        assert (tmp_path / "o" / name).read_bytes() == (golden_dir / "chunk500" / name).read_bytes()


def test_version():
    proc = subprocess.run([sys.executable, "-m", "virnucpro", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("virnucpro ")


def _assert_clean_failure(code, err, out_dir, *needles):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("virnucpro: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]
    leftovers = list(out_dir.glob("*.fa*")) if out_dir.exists() else []
    assert not leftovers  # nothing that looks complete


_GZ = gzip.compress((">r\n" + "ACGT" * 50 + "\n").encode() * 2000)
BAD_FILES = {
    "binary": ("x.fa", bytes(range(256)) * 4, ["x.fa", "not a FASTA or FASTQ"]),
    "html": ("page.fa", b"<!DOCTYPE html>\n<html><body>Not Found</body></html>\n", ["page.fa", "line 1"]),
    "truncated gzip": ("t.fa.gz", _GZ[: len(_GZ) // 2], ["t.fa.gz", "truncated or corrupt"]),
    "malformed fastq": ("bad.fq", b"@r1\nACGT\n+\nIII\n", ["bad.fq", "line"]),
    "paired reads": ("pairs.fq", b"@r1 1:N:0:1\nACGT\n+\nIIII\n@r1 2:N:0:1\nACGA\n+\nIIII\n",
                     ["duplicate sequence ID 'r1'", "pairs.fq", "paired reads", "/1"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_file(case, tmp_path, run_cli):
    name, content, needles = BAD_FILES[case]
    src = tmp_path / name
    src.write_bytes(content)
    code, _, err = _prepare(run_cli, src, tmp_path / "o")
    _assert_clean_failure(code, err, tmp_path / "o", *needles)


def test_empty_path_and_missing_file(tmp_path, run_cli):
    code, _, err = _prepare(run_cli, "", tmp_path / "o")
    _assert_clean_failure(code, err, tmp_path / "o", "input path is empty")
    code, _, err = _prepare(run_cli, tmp_path / "nope.fa", tmp_path / "o")
    _assert_clean_failure(code, err, tmp_path / "o", "nope.fa", "does not exist")


@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure-python"])
def test_duplicate_ids_across_batches(pure, monkeypatch):
    if pure:
        monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    d = DuplicateChecker()
    for k in range(40):
        assert d.add([f"id{k}_{i}" for i in range(100)]) is None
    assert d.add(["new", "id7_3"]) == "id7_3"
    assert d.add(["x", "y", "x"]) == "x"


def test_empty_records_skipped_with_warning(tmp_path, run_cli):
    src = tmp_path / "e.fa"
    src.write_text(">a\n>b\nATG\n>c\n\n")
    code, _, err = _prepare(run_cli, src, tmp_path / "o")
    assert code == 0
    assert "skipped 2 empty record(s)" in err and "'a'" in err
    assert (tmp_path / "o" / "chunks.fa").read_text() == ">b_chunk_1\nATG\n"
    import json
    assert json.loads((tmp_path / "o" / "run_info.json").read_text())["counts"]["empty_records_skipped"] == 2


def test_empty_input_gives_empty_outputs(tmp_path, run_cli):
    src = tmp_path / "empty.fa"
    src.write_text("")
    code, _, err = _prepare(run_cli, src, tmp_path / "o")
    assert code == 0, err
    for name in ("chunks.fa", "identified_nucleotide.fa", "identified_protein.faa"):
        assert (tmp_path / "o" / name).read_text() == ""


def test_batches_stream_in_order(tmp_path):
    src = tmp_path / "many.fa"
    src.write_text("".join(f">r{i}\nACGT\n" for i in range(1000)))
    batches = list(read_batches(str(src), batch_size=300))
    assert [len(b.ids) for b in batches] == [300, 300, 300, 100]
    assert batches[-1].ids[-1] == "r999"


def test_bad_chunk_size(tmp_path, run_cli):
    with pytest.raises(SystemExit) as e:
        run_cli("prepare", "x.fa", "-o", tmp_path, "--chunk-size", "0")
    assert e.value.code == 2
