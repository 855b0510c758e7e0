"""GenBank (train's input) is read strictly: a damaged or cut file is one line, exit 2, never a partial read."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from conftest import one_error_line
from virnucpro.errors import InputError
from virnucpro.io.genbank import read_genbank
from virnucpro.testing.genbank import write_genbank


@pytest.fixture
def gbk(tmp_path) -> Path:
    write_genbank(tmp_path / "a.gbk", 8, gc=0.5, seed=5, prefix="a", genes=1)
    return tmp_path / "a.gbk"


def _refused(path: Path, match: str) -> None:
    with pytest.raises(InputError, match=match):
        list(read_genbank(str(path)))


def test_whole_file_reads_every_record(gbk):
    assert [r.id for r in read_genbank(str(gbk))] == [f"a{i}.1" for i in range(8)]


def test_record_missing_its_closing_slashes_is_refused(gbk):
    text = gbk.read_text()
    gbk.write_text(text.replace("//\n", "", 1))
    _refused(gbk, r"'a0.1'.*no closing '//' before the LOCUS line")


def test_file_cut_inside_origin_is_refused(gbk):
    text = gbk.read_text()
    gbk.write_text(text[:text.rindex("ORIGIN") + 200])
    _refused(gbk, "without its closing '//'|malformed ORIGIN")


def test_file_cut_at_a_line_end_inside_origin_is_refused(gbk):
    lines = gbk.read_text().splitlines(keepends=True)
    last_origin = max(i for i, ln in enumerate(lines) if ln.startswith("ORIGIN"))
    gbk.write_text("".join(lines[:last_origin + 3]))
    _refused(gbk, "without its closing '//'")


def test_missing_origin_line_is_refused(gbk):
    lines = gbk.read_text().splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.startswith("ORIGIN")) + 2
    gbk.write_text("".join(lines[:at] + lines[at + 1:]))  # one sequence line gone: positions no longer follow
    _refused(gbk, "malformed ORIGIN line")


@pytest.mark.parametrize("bad", ["       61 acgt1acgta", "       61 acgt-acgta", "  junk acgtacgtac"])
def test_malformed_origin_line_is_refused(gbk, bad):
    lines = gbk.read_text().splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.startswith("ORIGIN")) + 2
    lines[at] = bad + "\n"
    gbk.write_text("".join(lines))
    _refused(gbk, "malformed ORIGIN line")


def test_locus_length_must_match_the_sequence(gbk):
    text = gbk.read_text()
    first = text.splitlines()[0]
    n = int(first.split()[2])
    gbk.write_text(text.replace(first, first.replace(f" {n} bp", f" {n + 5} bp"), 1))
    _refused(gbk, f"has {n} bases but its LOCUS line .* says {n + 5}")


def test_non_ascii_letter_is_one_line(gbk, tmp_path, run_cli):
    text = gbk.read_text()
    gbk.write_text(text.replace("DEFINITION  synthetic", "DEFINITION  synthétique", 1), encoding="utf-8")
    _refused(gbk, "line 2 has a byte outside ASCII")


def test_truncated_gbk_gz_is_one_line(gbk, tmp_path, run_cli):
    packed = gzip.compress(gbk.read_bytes())
    (tmp_path / "cut.gbk.gz").write_bytes(packed[:len(packed) // 2])
    _refused(tmp_path / "cut.gbk.gz", "truncated or corrupt")
    write_genbank(tmp_path / "o.gbk", 8, gc=0.3, seed=6, prefix="o", genes=1)
    code, _, err = run_cli("train", "--viral", tmp_path / "cut.gbk.gz", "--other", tmp_path / "o.gbk", "--chunk-size",
                           300, "-o", tmp_path / "out", "-q")
    assert code == 2 and "truncated or corrupt" in one_error_line(err), err
