"""Unaligned BAM, several inputs in one run, and --paired mates (two files or one interleaved file)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from conftest import assert_same_outputs, one_error_line
from virnucpro.testing.bam import FIRST_MATE, SECOND_MATE, SINGLE, write_ubam


def _reads(n: int, seed: int, prefix: str = "r") -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"{prefix}{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(120, 700)))) for i in range(n)]


def _fastq(path: Path, reads: list[tuple[str, str]], comments: list[str] | None = None) -> Path:
    lines = []
    for k, (name, seq) in enumerate(reads):
        head = name + (" " + comments[k] if comments else "")
        lines += [f"@{head}", seq, "+", "I" * len(seq)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _fasta(path: Path, reads: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{n}\n{s}\n" for n, s in reads))
    return path


def _predict(run_cli, model_args, out: Path, *inputs) -> None:
    code, _, err = run_cli("predict", *inputs, "-o", out, *model_args, "--device", "cpu", "-q")
    assert code == 0, err


def test_bam_reader_matches_dnaio_on_single_end(tmp_path):
    import dnaio

    from virnucpro.io.seqio import read_inputs

    reads = _reads(300, 1) + [("odd", "ACGTNRYKM" * 3 + "A")]
    write_ubam(tmp_path / "r.bam", [(n, s, SINGLE) for n, s in reads])
    ours = [(i, s) for b in read_inputs([str(tmp_path / "r.bam")], batch_size=64) for i, s in zip(b.ids, b.seqs)]
    with dnaio.open(tmp_path / "r.bam") as reader:
        theirs = [(r.name, r.sequence) for r in reader]
    assert ours == theirs == reads


def test_bam_gives_the_same_results_as_fastq(tmp_path, run_cli, model_args):
    reads = _reads(40, 2)
    write_ubam(tmp_path / "r.bam", [(n, s, SINGLE) for n, s in reads])
    _predict(run_cli, model_args, tmp_path / "bam", tmp_path / "r.bam")
    _predict(run_cli, model_args, tmp_path / "fq", _fastq(tmp_path / "r.fq", reads))
    assert_same_outputs(tmp_path / "bam", tmp_path / "fq")


def test_several_inputs_equal_their_concatenation(tmp_path, run_cli, model_args):
    a, b = _reads(15, 3, "a"), _reads(12, 4, "b")
    fa = _fasta(tmp_path / "a.fa", a)
    fq = tmp_path / "b.fq.gz"
    fq.write_bytes(gzip.compress(_fastq(tmp_path / "b.fq", b).read_bytes()))
    _predict(run_cli, model_args, tmp_path / "two", fa, fq)
    _predict(run_cli, model_args, tmp_path / "one", _fasta(tmp_path / "ab.fa", a + b))
    assert_same_outputs(tmp_path / "two", tmp_path / "one")
    info = json.loads((tmp_path / "two" / "run_info.json").read_text())
    assert [f["path"] for f in info["input"]["files"]] == [str(fa.resolve()), str(fq.resolve())]
    assert info["counts"]["records"] == 27


def test_duplicate_id_across_inputs_points_at_paired(tmp_path, run_cli, model_args):
    reads, mates = _reads(5, 5), _reads(5, 6)  # same IDs, other sequences (identical files are one file twice)
    code, _, err = run_cli("predict", _fastq(tmp_path / "r_1.fq", reads), _fastq(tmp_path / "r_2.fq", mates),
                           "-o", tmp_path / "out", *model_args, "--device", "cpu")
    line = one_error_line(err)
    assert code == 2 and "duplicate sequence ID 'r0'" in line and "--paired" in line
    assert not (tmp_path / "out").exists()


@pytest.fixture
def mates(tmp_path):
    """Mate files in Illumina style (same ID, '1:N:0' / '2:N:0' comments) and the reads they stand for."""
    r1, r2 = _reads(14, 6), _reads(14, 7)
    f1 = _fastq(tmp_path / "m_1.fq", r1, ["1:N:0:ACGT"] * len(r1))
    f2 = _fastq(tmp_path / "m_2.fq", r2, ["2:N:0:ACGT"] * len(r2))
    renamed = [(f"{a[0]}/{k}", s) for a, b in zip(r1, r2) for k, s in ((1, a[1]), (2, b[1]))]
    return f1, f2, r1, r2, renamed


def test_paired_two_files_name_mates_and_keep_one_row_per_read(tmp_path, run_cli, model_args, mates):
    f1, f2, r1, r2, renamed = mates
    _predict(run_cli, model_args, tmp_path / "paired", f1, f2, "--paired")
    rows = (tmp_path / "paired" / "sequences.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == [n for n, _ in renamed]
    assert [int(r.split("\t")[1]) for r in rows] == [len(s) for _, s in renamed]
    _predict(run_cli, model_args, tmp_path / "renamed", _fasta(tmp_path / "renamed.fa", renamed))
    assert_same_outputs(tmp_path / "paired", tmp_path / "renamed")
    info = json.loads((tmp_path / "paired" / "run_info.json").read_text())
    assert info["input"]["paired"] is True and len(info["input"]["files"]) == 2


def test_paired_interleaved_fastq_and_ubam_equal_two_mate_files(tmp_path, run_cli, model_args, mates):
    f1, f2, r1, r2, renamed = mates
    _predict(run_cli, model_args, tmp_path / "two", f1, f2, "--paired")
    inter = [x for a, b in zip(r1, r2) for x in (a, b)]
    _predict(run_cli, model_args, tmp_path / "fq", _fastq(tmp_path / "i.fq", inter), "--paired")
    flags = [FIRST_MATE, SECOND_MATE] * len(r1)
    write_ubam(tmp_path / "i.bam", [(n, s, f) for (n, s), f in zip(inter, flags)])
    _predict(run_cli, model_args, tmp_path / "bam", tmp_path / "i.bam", "--paired")
    assert_same_outputs(tmp_path / "two", tmp_path / "fq")
    assert_same_outputs(tmp_path / "two", tmp_path / "bam")


def test_old_style_mate_suffixes_pair_too(tmp_path, run_cli, model_args, mates):
    f1, f2, r1, r2, renamed = mates
    g1 = _fastq(tmp_path / "s_1.fq", [(n + "/1", s) for n, s in r1])
    g2 = _fastq(tmp_path / "s_2.fq", [(n + "/2", s) for n, s in r2])
    _predict(run_cli, model_args, tmp_path / "a", f1, f2, "--paired")
    _predict(run_cli, model_args, tmp_path / "b", g1, g2, "--paired")
    assert_same_outputs(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("case,expect", [
    ("fewer", "holds more reads than its mate file"),
    ("swapped", "pair 3 has the IDs 'r2' and 'r3'"),
    ("odd", "odd number of reads"),
    ("three", "two mate files (R1 R2) or one interleaved file, not 3"),
    ("first_twice", "pair 1 has the IDs 'r0/1' and 'r0/1'"),  # two R1 files of old-style names: no pair
])
def test_paired_refusals(tmp_path, run_cli, model_args, mates, case, expect):
    f1, f2, r1, r2, _ = mates
    if case == "fewer":
        args = [f1, _fastq(tmp_path / "short.fq", r2[:-1])]
    elif case == "swapped":
        args = [f1, _fastq(tmp_path / "swap.fq", r2[:2] + [r2[3], r2[2]] + r2[4:])]
    elif case == "first_twice":
        args = [_fastq(tmp_path / "a_1.fq", [(n + "/1", s) for n, s in r1]),
                _fastq(tmp_path / "b_1.fq", [(n + "/1", s[::-1]) for n, s in r2])]
    elif case == "odd":
        args = [_fastq(tmp_path / "odd.fq", [x for a, b in zip(r1, r2) for x in (a, b)][:-1])]
    else:
        args = [f1, f2, f1]
    code, _, err = run_cli("predict", *args, "--paired", "-o", tmp_path / "out", *model_args, "--device", "cpu")
    assert code == 2 and expect in one_error_line(err), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case,expect", [
    ("mapped", "record 2 is mapped (flag 0): this is an aligned BAM"),
    ("truncated", "truncated"),
])
def test_bad_bam_is_refused_in_one_line(tmp_path, run_cli, model_args, case, expect):
    reads = _reads(6, 8)
    flags = [SINGLE, 0] + [SINGLE] * 4 if case == "mapped" else [SINGLE] * 6
    write_ubam(tmp_path / "r.bam", [(n, s, f) for (n, s), f in zip(reads, flags)])
    if case == "truncated":
        import zlib

        raw = gzip.decompress((tmp_path / "r.bam").read_bytes())[:-30]  # a record cut short, then valid gzip
        (tmp_path / "r.bam").write_bytes(gzip.compress(raw))
        assert zlib  # (keeps the import local to this case)
    code, _, err = run_cli("predict", tmp_path / "r.bam", "-o", tmp_path / "out", *model_args, "--device", "cpu")
    assert code == 2 and expect in one_error_line(err), err


def test_paired_changes_the_run_so_resume_refuses_it(tmp_path, run_cli, model_args, mates):
    f1, f2, *_ = mates
    _predict(run_cli, model_args, tmp_path / "out", f1, f2, "--paired")
    code, _, err = run_cli("predict", f1, "-o", tmp_path / "out", *model_args, "--device", "cpu")
    assert code == 2 and "different input" in one_error_line(err)


def test_prepare_takes_several_inputs_and_mates(tmp_path, run_cli, mates):
    f1, f2, r1, r2, renamed = mates
    code, _, err = run_cli("prepare", f1, f2, "--paired", "-o", tmp_path / "p", "-q")
    assert code == 0, err
    code, _, err = run_cli("prepare", _fasta(tmp_path / "renamed.fa", renamed), "-o", tmp_path / "q", "-q")
    assert code == 0, err
    for name in ("chunks.fa", "identified_nucleotide.fa", "identified_protein.faa"):
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "q" / name).read_bytes()


def _ubam(path: Path, reads) -> Path:
    write_ubam(path, [(n, s, SINGLE) for n, s in reads])
    return path


@pytest.mark.parametrize("first, second", [("fa", "fq"), ("fq", "fa"), ("fa", "bam")])
def test_mates_in_two_formats_are_refused_in_one_line(tmp_path, run_cli, model_args, first, second):
    """A FASTA mate with a FASTQ (or BAM) mate: refused before the directory is claimed (was a KeyError at the
    end, with complete-looking tables left behind; found by a hostile pass)."""
    reads = _reads(4, 7)
    make = {"fa": lambda p, r: _fasta(p.with_suffix(".fa"), r), "fq": lambda p, r: _fastq(p.with_suffix(".fq"), r),
            "bam": lambda p, r: _ubam(p.with_suffix(".bam"), r)}
    r1 = make[first](tmp_path / "R1", reads)
    r2 = make[second](tmp_path / "R2", reads)
    out = tmp_path / "out"
    code, _, err = run_cli("predict", r1, r2, "--paired", "-o", out, *model_args, "--device", "cpu")
    line = one_error_line(err)
    assert code == 2 and "--paired" in line and "one format" in line, line
    assert not (out / "sequences.tsv").exists() and not (out / "run_info.json").exists()
