"""The sequence files: viral.fa / viral.fq / viral_R1 + viral_R2, regions.fa, regions.gff3 (exact records, sealed,
byte-identical through --shard + merge, restored when damaged, skipped with --no-sequences)."""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import types
from pathlib import Path

import pytest

from conftest import GOLDEN
from virnucpro.testing.bam import SINGLE, write_ubam

SEQUENCE_FILES = ("viral.fa", "viral.fq", "viral_R1.fa", "viral_R1.fq", "viral_R2.fa", "viral_R2.fq", "regions.fa",
                  "regions.gff3")
_COMP = str.maketrans("ACGTN", "TGCAN")
TINY_UNITS = ("--unit-frames", 1)  # a unit closes at its first frame or 8 records: pairs straddle units


def _predict(run_cli, model_args, out: Path, *inputs, extra=()) -> None:
    code, _, err = run_cli("predict", *inputs, "-o", out, "--unit-frames", 48, "-q", *model_args, *extra)
    assert code == 0, err


def _reads(n: int, seed: int, prefix: str = "r", lo: int = 120, hi: int = 400) -> list[tuple[str, str, str]]:
    """(header, sequence, qualities): headers with a description, random qualities."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        seq = "".join(rng.choice("ACGT") for _ in range(rng.randint(lo, hi)))
        out.append((f"{prefix}{i} sample=x;i={i}", seq, "".join(chr(rng.randint(35, 73)) for _ in seq)))
    return out


def _write_fastq(path: Path, reads) -> Path:
    path.write_text("".join(f"@{h}\n{s}\n+\n{q}\n" for h, s, q in reads))
    return path


def _write_fasta(path: Path, reads) -> Path:
    path.write_text("".join(f">{h}\n{s[:70]}\n{s[70:]}\n" for h, s, _ in reads))  # two lines: rewrapped at 60
    return path


def _verdicts(out: Path) -> dict[str, str]:
    rows = [ln.split("\t") for ln in (out / "sequences.tsv").read_text().splitlines()[1:]]
    return {r[0]: r[-1] for r in rows}


def _fasta(path: Path) -> list[tuple[str, str]]:
    recs: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            recs.append((line[1:], ""))
        else:
            assert len(line) <= 60
            recs[-1] = (recs[-1][0], recs[-1][1] + line)
    return recs


def _fastq_text(reads) -> str:
    return "".join(f"@{h}\n{s}\n+\n{q}\n" for h, s, q in reads)


def _sealed(out: Path, names) -> dict:
    from virnucpro.io.hashing import sha256_file

    info = json.loads((out / "run_info.json").read_text())
    for name in names:
        assert info["outputs"][name] == sha256_file(out / name), name
    return info


def _contigs(tmp_path: Path, n: int = 31, plain: bool = False) -> Path:
    """The first `n` records of the golden contigs (descriptions, lowercase, several lines each); `plain`: one-word
    headers and one-line sequences (what bedtools reads the same way)."""
    recs = _fasta_any_width(GOLDEN / "input.fa")[:n]
    src = tmp_path / "contigs.fa"
    if plain:
        src.write_text("".join(f">{h.split()[0]}\n{s}\n" for h, s in recs if s))
    else:
        text = (GOLDEN / "input.fa").read_text()
        src.write_text(text[:text.index(">" + recs[-1][0] + "\n")])  # the first n - 1 records, as written
    return src


def test_contigs_viral_fa_regions_fa_and_gff3(tmp_path, run_cli, model_args):
    src = _contigs(tmp_path, n=379)  # every golden contig: regions need two agreeing viral chunks
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, src, extra=("--min-region-length", 1))
    verdict = _verdicts(out)
    given = _fasta_any_width(src)
    want = [(h, s) for h, s in given if s and verdict[h.split()[0]] == "virus"]
    assert 0 < len(want) < len(verdict) and _fasta(out / "viral.fa") == want
    assert not (out / "viral.fq").exists()
    seqs = {h.split()[0]: s for h, s in given}
    rows = [ln.split("\t") for ln in (out / "regions.tsv").read_text().splitlines()[1:]]
    got = _fasta(out / "regions.fa")
    assert len(got) == len(rows) > 0
    for (name, seq), (sid, k, a, b, n, _, _, score) in zip(got, rows):
        assert name == f"{sid}|region{k} start={a} end={b} length={n} mean_virus_score={score}"
        assert seq == seqs[sid][int(a) - 1:int(b)]
    gff = (out / "regions.gff3").read_text().splitlines()
    assert gff[0] == "##gff-version 3"
    pragmas = [ln.split() for ln in gff if ln.startswith("##sequence-region")]
    assert [p[1] for p in pragmas] == list(dict.fromkeys(r[0] for r in rows))
    assert all(p[2] == "1" and int(p[3]) == len(seqs[p[1]]) for p in pragmas)
    features = [ln.split("\t") for ln in gff if not ln.startswith("#")]
    assert [(f[0], f[2], f[3], f[4], f[5]) for f in features] == [(r[0], "viral_sequence", r[2], r[3], r[7])
                                                                   for r in rows]
    assert all(f[8].startswith(f"ID={r[0]}|region{r[1]};") for f, r in zip(features, rows))
    info = _sealed(out, ("viral.fa", "regions.fa", "regions.gff3"))
    assert info["parameters"]["sequences"] is True
    assert info["counts"]["sequence_files"] == {"viral.fa": len(want), "regions.fa": len(rows),
                                                "regions.gff3": len(rows)}
    assert 'id="sequence-files"' in (out / "report.html").read_text()
    from virnucpro.report.summary_page import write_summary

    write_summary(tmp_path, ["o"])
    row = (tmp_path / "summary.tsv").read_text().splitlines()
    assert row[0].endswith("\tviral_records") and row[1].endswith(f"\t{len(want)}")


def _fasta_any_width(path: Path) -> list[tuple[str, str]]:
    recs: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            recs.append((line[1:], ""))
        elif recs:
            recs[-1] = (recs[-1][0], recs[-1][1] + line.strip())
    return recs


def test_fastq_and_fasta_inputs_each_to_their_kind_with_qualities(tmp_path, run_cli, model_args):
    fq, fa = _reads(30, 1, "q"), _reads(30, 2, "a")
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, _write_fastq(tmp_path / "r.fq", fq), _write_fasta(tmp_path / "r.fa", fa))
    verdict = _verdicts(out)
    want_fq = [r for r in fq if verdict[r[0].split()[0]] == "virus"]
    want_fa = [(h, s) for h, s, _ in fa if verdict[h.split()[0]] == "virus"]
    assert want_fq and want_fa and len(want_fq) < len(fq)
    assert (out / "viral.fq").read_text() == _fastq_text(want_fq)
    assert _fasta(out / "viral.fa") == want_fa
    _sealed(out, ("viral.fa", "viral.fq", "regions.fa", "regions.gff3"))


def test_bam_reads_as_samtools_fastq_writes_them(tmp_path, run_cli, model_args):
    reads = _reads(40, 3, "b")
    flags = [SINGLE | (16 if i % 3 == 0 else 0) for i in range(len(reads))]  # some stored reverse-complemented
    bam = tmp_path / "r.bam"
    write_ubam(bam, [(h.split()[0], s, f, None if i == 1 else q) for i, ((h, s, q), f) in enumerate(zip(reads, flags))])
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, bam)
    verdict = _verdicts(out)
    want = []
    for i, ((h, s, q), f) in enumerate(zip(reads, flags)):
        name = h.split()[0]
        q = "B" * len(s) if i == 1 else q  # no qualities in the BAM: samtools fastq writes 'B' (Phred 33)
        if verdict[name] == "virus":
            want.append((name, s.translate(_COMP)[::-1], q[::-1]) if f & 16 else (name, s, q))
    assert want and (out / "viral.fq").read_text() == _fastq_text(want)


@pytest.mark.slow
def test_bam_records_are_written_as_the_real_samtools_fastq_writes_them(tmp_path):
    if not shutil.which("samtools"):
        pytest.skip("samtools is not installed (apt-get install samtools)")
    from virnucpro.io.source_records import source_records
    from virnucpro.writers.viral_files import format_record

    reads = _reads(30, 9, "s", lo=1, hi=90)
    bam = tmp_path / "r.bam"
    write_ubam(bam, [(h.split()[0], s, SINGLE | (16 if i % 2 else 0), None if i % 5 == 0 else q)
                     for i, (h, s, q) in enumerate(reads)])
    ours = "".join(format_record(r) for r in source_records([str(bam)]))
    theirs = subprocess.run(["samtools", "fastq", str(bam)], capture_output=True, text=True, check=True).stdout
    assert ours == theirs


def _mates(n: int, seed: int) -> tuple[list, list]:
    r1 = [(f"p{i} 1:N:0:ACGT", s, q) for i, (_, s, q) in enumerate(_reads(n, seed))]
    r2 = [(f"p{i} 2:N:0:ACGT", s, q) for i, (_, s, q) in enumerate(_reads(n, seed + 1))]
    return r1, r2


def test_pairs_keep_both_mates_and_shards_merge_byte_for_byte(tmp_path, run_cli, model_args):
    r1, r2 = _mates(30, 4)
    f1, f2 = _write_fastq(tmp_path / "r_1.fq", r1), _write_fastq(tmp_path / "r_2.fq", r2)
    one = tmp_path / "one"
    _predict(run_cli, model_args, one, f1, f2, extra=("--paired", *TINY_UNITS))
    verdict = _verdicts(one)
    keep = [i for i in range(len(r1)) if "virus" in (verdict[f"p{i}/1"], verdict[f"p{i}/2"])]
    mixed = [i for i in keep if verdict[f"p{i}/1"] != verdict[f"p{i}/2"]]
    assert mixed and len(keep) < len(r1)
    assert json.loads((one / "run_info.json").read_text())["plan"]["units"] >= 4
    assert (one / "viral_R1.fq").read_text() == _fastq_text([r1[i] for i in keep])
    assert (one / "viral_R2.fq").read_text() == _fastq_text([r2[i] for i in keep])
    assert not (one / "viral.fq").exists()
    for i in (1, 2):
        _predict(run_cli, model_args, tmp_path / f"s{i}", f1, f2, extra=("--paired", "--shard", f"{i}/2", *TINY_UNITS))
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "m", "-q")
    assert code == 0, err
    for name in SEQUENCE_FILES:
        assert (tmp_path / "m" / name).exists() == (one / name).exists(), name
        if (one / name).exists():
            assert (tmp_path / "m" / name).read_bytes() == (one / name).read_bytes(), name
    _sealed(tmp_path / "m", ("viral_R1.fq", "viral_R2.fq", "regions.fa", "regions.gff3"))
    stored = sorted((tmp_path / "s2" / "work_units").glob("seqs_*.txt"))[0]  # a shard's stored sequences damaged
    stored.write_bytes(stored.read_bytes()[:-30])
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "m2", "-q")
    assert code == 2 and "shard 2/2" in err and "damaged" in err
    _predict(run_cli, model_args, tmp_path / "s2", f1, f2, extra=("--paired", "--shard", "2/2", *TINY_UNITS))  # repairs it
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "m2", "-q")
    assert code == 0 and (tmp_path / "m2" / "viral_R1.fq").read_bytes() == (one / "viral_R1.fq").read_bytes(), err


def test_interleaved_fasta_mates_go_to_viral_r1_and_r2_fa(tmp_path, run_cli, model_args):
    r1, r2 = _mates(25, 8)
    src = tmp_path / "inter.fa"
    src.write_text("".join(f">{a[0]}\n{a[1]}\n>{b[0]}\n{b[1]}\n" for a, b in zip(r1, r2)))
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, src, extra=("--paired",))
    verdict = _verdicts(out)
    keep = [i for i in range(len(r1)) if "virus" in (verdict[f"p{i}/1"], verdict[f"p{i}/2"])]
    assert keep and _fasta(out / "viral_R1.fa") == [r1[i][:2] for i in keep]
    assert _fasta(out / "viral_R2.fa") == [r2[i][:2] for i in keep]
    assert not list(out.glob("viral*.fq"))


def test_a_damaged_viral_fa_is_restored_by_the_same_command(tmp_path, run_cli, model_args):
    src = _write_fasta(tmp_path / "r.fa", _reads(40, 5))
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, src)
    good = (out / "viral.fa").read_bytes()
    (out / "viral.fa").write_bytes(good[: len(good) // 2])
    _predict(run_cli, model_args, out, src)
    assert (out / "viral.fa").read_bytes() == good
    (out / "regions.gff3").unlink()
    _predict(run_cli, model_args, out, src)
    assert (out / "regions.gff3").exists()


def test_no_sequences_writes_the_tables_only(tmp_path, run_cli, model_args):
    src = _write_fasta(tmp_path / "r.fa", _reads(20, 6))
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, src, extra=("--no-sequences",))
    assert not any((out / n).exists() for n in SEQUENCE_FILES) and (out / "sequences.tsv").exists()
    info = json.loads((out / "run_info.json").read_text())
    assert info["parameters"]["sequences"] is False and not set(SEQUENCE_FILES) & set(info["outputs"])


def test_stdin_gives_the_same_sequence_files(tmp_path, run_cli, model_args, monkeypatch):
    reads = _reads(25, 7)
    src = _write_fastq(tmp_path / "r.fq", reads)
    _predict(run_cli, model_args, tmp_path / "file", src)
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(src.read_bytes())))
    _predict(run_cli, model_args, tmp_path / "pipe", "-")
    for name in ("viral.fq", "regions.fa", "regions.gff3"):
        assert (tmp_path / "pipe" / name).read_bytes() == (tmp_path / "file" / name).read_bytes(), name
    assert not list((tmp_path / "pipe").glob(".input.spool*"))


def test_gff3_escapes_ids():
    from virnucpro.writers.region_files import RegionRow, escape_seqid, gff_feature

    assert escape_seqid("ctg|1.x_y-z") == "ctg|1.x_y-z" and escape_seqid("a/b c;d") == "a%2Fb%20c%3Bd"
    line = gff_feature(RegionRow("s=1,x", "2", 3, 40, "38", "1", "1", "0.9"))
    assert line.split("\t")[0] == "s%3D1%2Cx" and "ID=s%3D1%2Cx|region2;" in line


@pytest.mark.slow
def test_bedtools_getfasta_on_regions_gff3_gives_regions_fa(tmp_path, run_cli, model_args):
    if not shutil.which("bedtools"):
        pytest.skip("bedtools is not installed (apt-get install bedtools)")
    src = _contigs(tmp_path, n=379, plain=True)  # every golden contig: regions need two agreeing viral chunks
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, src, extra=("--min-region-length", 1))
    got = subprocess.run(["bedtools", "getfasta", "-fi", str(src), "-bed", str(out / "regions.gff3")],
                         capture_output=True, text=True, check=True).stdout
    theirs = [ln for ln in got.splitlines() if not ln.startswith(">")]
    ours = [s for _, s in _fasta(out / "regions.fa")]
    assert len(ours) > 0 and theirs == ours
    if shutil.which("gt"):  # GenomeTools' validator, types checked against the Sequence Ontology
        subprocess.run(["gt", "gff3validator", "-typecheck", "so", str(out / "regions.gff3")], check=True,
                       capture_output=True)


def test_needed_keeps_virus_long_and_both_mates_of_a_virus_pair():
    from virnucpro.io.source_records import SourceRecord
    from virnucpro.writers.slices import needed

    def recs(ids, verdicts, lengths, mates):
        return [(v, SourceRecord(i, i, "A" * n, "", "fq", m), n) for i, v, n, m in zip(ids, verdicts, lengths, mates)]

    ids = ["a/2", "b/1", "b/2", "c/1", "c/2", "d/1"]  # a/2 and d/1: their mates lie in the next or previous unit
    verdicts = ["others", "others", "virus", "others", "others", "others"]
    got = [r.run_id for _, r in needed(recs(ids, verdicts, [150] * 6, [2, 1, 2, 1, 2, 1]), 1000)]
    assert got == ["a/2", "b/1", "b/2", "d/1"]
    got = [r.run_id for _, r in needed(recs(["x", "y", "z"], ["virus", "others", "others"], [150, 5000, 150],
                                            [0, 0, 0]), 1000)]
    assert got == ["x", "y"]


def test_an_input_without_records_gives_empty_region_files(tmp_path, run_cli, model_args):
    src = tmp_path / "empty.fa"
    src.write_text(">a\n>b\n")
    out = tmp_path / "o"
    _predict(run_cli, model_args, out, src)
    assert (out / "regions.fa").read_text() == "" and (out / "regions.gff3").read_text() == "##gff-version 3\n"
    assert not (out / "viral.fa").exists()
