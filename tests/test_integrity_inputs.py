"""Truncated, malformed or unpairable input is refused in one line (exit 2), never read as complete."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import struct
from pathlib import Path

import pytest

from conftest import one_error_line
from virnucpro.errors import InputError
from virnucpro.io.seqio import read_inputs
from virnucpro.testing.bam import BGZF_EOF, SINGLE, _bgzf_block, write_ubam


def _reads(n: int) -> list[tuple[str, str]]:
    return [(f"r{i}", "ACGTTGCA"[i % 8:] + "ACGT" * 20) for i in range(n)]


def _all(paths, paired=False) -> list[tuple[str, str]]:
    return [(i, s) for b in read_inputs([str(p) for p in paths], batch_size=50, paired=paired)
            for i, s in zip(b.ids, b.seqs)]


def _fastq_text(reads) -> bytes:
    return "".join(f"@{n}\n{s}\n+\n{'I' * len(s)}\n" for n, s in reads).encode()


def _bgzf(data: bytes, eof: bool = True) -> bytes:
    blocks = b"".join(_bgzf_block(data[at:at + 4000]) for at in range(0, len(data), 4000))
    return blocks + (BGZF_EOF if eof else b"")


def test_bam_cut_at_block_boundary_is_refused(tmp_path, run_cli):
    write_ubam(tmp_path / "r.bam", [(n, s, SINGLE) for n, s in _reads(3000)])
    data = (tmp_path / "r.bam").read_bytes()[:-len(BGZF_EOF)]
    first = data.index(b"\x1f\x8b", 20)  # the start of the second BGZF block: a cut at a block boundary
    (tmp_path / "cut.bam").write_bytes(data[:first])
    code, _, err = run_cli("prepare", tmp_path / "cut.bam", "-o", tmp_path / "out", "-q")
    assert code == 2 and "end-of-file block" in one_error_line(err), err
    assert not (tmp_path / "out" / "chunks.fa").exists()


def test_bam_without_eof_block_is_refused_even_when_whole(tmp_path):
    write_ubam(tmp_path / "r.bam", [(n, s, SINGLE) for n, s in _reads(5)])
    (tmp_path / "r.bam").write_bytes((tmp_path / "r.bam").read_bytes()[:-len(BGZF_EOF)])
    with pytest.raises(InputError, match="end-of-file block"):
        _all([tmp_path / "r.bam"])


def test_bgzf_fastq_without_eof_block_is_refused(tmp_path):
    text = _fastq_text(_reads(200))
    (tmp_path / "ok.fq.gz").write_bytes(_bgzf(text))
    assert len(_all([tmp_path / "ok.fq.gz"])) == 200
    (tmp_path / "cut.fq.gz").write_bytes(_bgzf(text, eof=False))
    with pytest.raises(InputError, match="end-of-file block"):
        _all([tmp_path / "cut.fq.gz"])


def _bam_record(name: bytes, seq_len: int, block_size_delta: int = 0, l_name: int | None = None) -> bytes:
    raw_name = name + b"\x00"
    fixed = struct.pack("<iiBBHHHIiii", -1, -1, l_name if l_name is not None else len(raw_name), 255, 4680, 0,
                        SINGLE, seq_len, -1, -1, 0)
    rest = fixed + raw_name + b"\x11" * ((seq_len + 1) // 2) + b"\xff" * seq_len
    return struct.pack("<I", len(rest) + block_size_delta) + rest


def _bam_with(tmp_path: Path, records: bytes) -> Path:
    text = b"@HD\tVN:1.6\n"
    body = b"BAM\x01" + struct.pack("<I", len(text)) + text + struct.pack("<I", 0) + records
    (tmp_path / "x.bam").write_bytes(_bgzf(body))
    return tmp_path / "x.bam"


@pytest.mark.parametrize("case", ["l_seq_too_long", "l_name_too_long", "block_too_small", "name_not_nul"])
def test_bam_record_fields_are_checked_against_their_block(tmp_path, case):
    good = _bam_record(b"ok", 10)
    if case == "l_seq_too_long":  # sequence claims more bytes than the block holds
        rec = bytearray(_bam_record(b"r2", 10))
        struct.pack_into("<I", rec, 20, 50)
        bad = bytes(rec)
    elif case == "l_name_too_long":
        bad = _bam_record(b"r2", 10, l_name=200)
    elif case == "block_too_small":
        bad = struct.pack("<I", 8) + b"\x00" * 8
    else:
        rec = bytearray(_bam_record(b"r2", 10))
        rec[36 + 2] = ord("x")  # the NUL ending the name
        bad = bytes(rec)
    with pytest.raises(InputError, match="record 2"):
        _all([_bam_with(tmp_path, good + bad + good)])


@pytest.mark.parametrize("name", [b"read one", b"r\tx"])
def test_bam_read_name_with_space_is_refused_naming_it(tmp_path, run_cli, name):
    path = _bam_with(tmp_path, _bam_record(b"ok", 90) + _bam_record(name, 90))
    code, _, err = run_cli("prepare", path, "-o", tmp_path / "out", "-q")
    line = one_error_line(err)
    assert code == 2 and "record 2" in line and "space or control byte" in line, err


def _compress(kind: str, data: bytes) -> bytes:
    if kind == "gz":
        return gzip.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    from backports import zstd

    return zstd.compress(data)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
@pytest.mark.parametrize("where", [0.3, 0.7, 0.99])
def test_compressed_input_cut_anywhere_is_refused(tmp_path, kind, where):
    packed = _compress(kind, _fastq_text(_reads(300)))
    path = tmp_path / f"cut.fq.{kind}"
    path.write_bytes(packed[:int(len(packed) * where)])
    with pytest.raises(InputError):
        _all([path])


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_compressed_input_with_trailing_garbage_is_refused(tmp_path, kind):
    path = tmp_path / f"tail.fa.{kind}"
    path.write_bytes(_compress(kind, b">r1\n" + b"ACGT" * 50 + b"\n") + b"this is not compressed data")
    with pytest.raises(InputError):
        _all([path])


def test_fastq_quality_length_differs_from_sequence_is_refused(tmp_path):
    (tmp_path / "q.fq").write_bytes(b"@r1\nACGTACGT\n+\nIIII\n@r2\nACGT\n+\nIIII\n")
    with pytest.raises(InputError, match="(?i)length|qualit"):
        _all([tmp_path / "q.fq"])


@pytest.mark.parametrize("cut", [3, 10, 17, 25])
def test_fastq_cut_mid_record_is_refused(tmp_path, cut):
    text = _fastq_text(_reads(3))
    (tmp_path / "c.fq").write_bytes(text[:len(text) - cut])
    with pytest.raises(InputError):
        _all([tmp_path / "c.fq"])


def test_same_file_as_both_mates_is_refused(tmp_path, run_cli):
    (tmp_path / "r1.fq").write_bytes(_fastq_text(_reads(6)))
    shutil.copy(tmp_path / "r1.fq", tmp_path / "copy.fq")
    for second in ("r1.fq", "copy.fq"):
        code, _, err = run_cli("prepare", tmp_path / "r1.fq", tmp_path / second, "--paired", "-o", tmp_path / "o",
                               "-q")
        assert code == 2 and "is the first file again" in one_error_line(err), err
        assert not (tmp_path / "o" / "chunks.fa").exists()


def test_interleaved_missing_mate_names_the_first_unpaired_read(tmp_path):
    reads = [(f"p{k}", "ACGT" * 30) for k in range(6) for _ in range(2)]
    del reads[5]  # p2's second mate: p2 (read 5) is the first read without a mate
    (tmp_path / "i.fq").write_bytes(_fastq_text(reads))
    with pytest.raises(InputError, match=r"read 5 of .* \('p2'\) has no mate"):
        _all([tmp_path / "i.fq"], paired=True)


@pytest.mark.parametrize("kind", ["bgzf", "bz2_garbage"])
def test_piped_input_without_its_end_marker_is_refused(tmp_path, monkeypatch, kind):
    import io
    import types

    text = _fastq_text(_reads(200))
    data = _bgzf(text, eof=False) if kind == "bgzf" else bz2.compress(text) + b"junk"
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))
    with pytest.raises(InputError, match="end-of-file block|end-of-stream marker"):
        _all(["-"])


def test_piped_bgzf_with_its_end_marker_is_read(monkeypatch):
    import io
    import types

    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(_bgzf(_fastq_text(_reads(200))))))
    assert len(_all(["-"])) == 200


@pytest.mark.parametrize("cut", ["before_trailer", "second_member_header", "second_member_body"])
def test_gz_cut_at_a_member_or_block_boundary_is_refused(tmp_path, cut):
    one, two = gzip.compress(_fastq_text(_reads(100))), gzip.compress(_fastq_text(_reads(100)).replace(b"@r", b"@s"))
    data = {"before_trailer": one[:-8], "second_member_header": one + two[:10],
            "second_member_body": one + two[:len(two) // 2]}[cut]
    (tmp_path / "c.fq.gz").write_bytes(data)
    with pytest.raises(InputError, match="truncated or corrupt"):
        _all([tmp_path / "c.fq.gz"])


@pytest.mark.parametrize("record, where, line", [
    (b"@r2 x\ry\nACGTACGTAC\n+\nIIIIIIIIII\n", "header", 5),  # a lone CR: a line break to the next tool
    (b"@r2 x\x1b[31mred\nACGTACGTAC\n+\nIIIIIIIIII\n", "header", 5),  # ESC: a terminal escape in viral.fq
    (b"@r2\nACGTACGTAC\n+\nIIII\rIIIII\n", "qualities", 8),
    (b"@r2\nACGTACGTAC\n+\nIIII IIIII\n", "qualities", 8),
    (b"@r2\nACGTA CGTA\n+\nIIIIIIIIII\n", "sequence", 6),  # a space counted as a base (hostile pass)
])
def test_fastq_headers_and_qualities_with_control_bytes_are_refused(tmp_path, record, where, line):
    """They would be written back to viral.fq as they are (and a lone CR broke the shard slices: a merged viral.fq
    with bases for qualities; found by a hostile pass). A tab in a header is a description's and stays."""
    path = tmp_path / "x.fq"
    path.write_bytes(_fastq_text(_reads(1)) + record)
    with pytest.raises(InputError) as exc:
        _all([path])
    text = str(exc.value)
    assert f"line {line}: record 2 " in text and f"in its {where}" in text and "\n" not in text, text
    ok = tmp_path / "tab.fq"
    ok.write_bytes(b"@r1 desc\twith tab\nACGTACGTAC\n+\nIIIIIIIIII\n")
    assert _all([ok]) == [("r1", "ACGTACGTAC")]


@pytest.mark.parametrize("pure", ["0", "1"], ids=["compiled", "numpy"])
def test_a_fasta_header_with_a_control_byte_is_refused_on_every_parse_path(tmp_path, monkeypatch, pure):
    """A FASTA header goes back out in viral.fa: ESC there is a terminal escape for whoever reads the file (found by
    a hostile pass). A tab in a description stays, and ^A (NCBI nt/nr join deflines with it); a lone CR is a line
    end, as Biopython reads it."""
    monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", pure)
    bad = tmp_path / "esc.fa"
    bad.write_bytes(b">r0\nACGTACGT\n>r1 x\x1b[31mred\nACGTACGTAC\n")
    with pytest.raises(InputError) as exc:
        _all([bad])
    assert "line 3: record 2 has the byte '\\x1b' in its header" in str(exc.value), exc.value
    ok = tmp_path / "ok.fa"
    ok.write_bytes(b">r0 a\tb\x01gi|2 other defline\nACGTACGT\n>r1 x\rACGT\n")  # ^A: NCBI's defline separator
    assert _all([ok]) == [("r0", "ACGTACGT"), ("r1", "ACGT")]
