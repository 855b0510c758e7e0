"""FASTA is read as the original reads it (Biopython's `SeqIO.parse(..., "fasta")`), on every parse path.

Golden files: tests/data/fasta_biopython/*.fa and Biopython 1.88's parse of each (*.json), written by
make.py there. Records Biopython returns empty are skipped here with a warning (spec: the original
crashes on them), so the expectation is Biopython's non-empty records.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from virnucpro import compiled
from virnucpro.errors import InputError
from virnucpro.io.record_groups import dnaio_groups, fasta_groups
from virnucpro.io.seqio import read_inputs

DATA = Path(__file__).parent / "data" / "fasta_biopython"
CASES = sorted(p.stem for p in DATA.glob("*.fa"))


def _expected(case: str) -> list[tuple[str, str]]:
    return [(i, s) for i, s in json.loads((DATA / f"{case}.json").read_text()) if s]


def _read(path: Path) -> list[tuple[str, str]]:
    return [(i, s) for b in read_inputs([str(path)], batch_size=3) for i, s in zip(b.ids, b.seqs)]


def test_golden_cases_exist():
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES)
def test_compiled_splitter_matches_biopython(case):
    if compiled.prep() is None:
        pytest.skip("compiled extension not built")
    assert _read(DATA / f"{case}.fa") == _expected(case)


@pytest.mark.parametrize("case", CASES)
def test_pure_python_path_matches_biopython(case, monkeypatch):
    monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    assert _read(DATA / f"{case}.fa") == _expected(case)


@pytest.mark.parametrize("case", CASES)
def test_dnaio_path_matches_biopython(case):
    parsed = [(i, s) for ids, seqs in dnaio_groups(io.BytesIO((DATA / f"{case}.fa").read_bytes()), 2)
              for i, s in zip(ids, seqs) if s]
    assert parsed == _expected(case)


@pytest.mark.parametrize("case", CASES)
def test_compiled_splitter_matches_biopython_across_tiny_blocks(case):
    prep = compiled.prep()
    if prep is None:
        pytest.skip("compiled extension not built")
    stream = io.BufferedReader(io.BytesIO((DATA / f"{case}.fa").read_bytes()))
    parsed = [(i, s) for ids, seqs in fasta_groups(stream, prep, block=7) for i, s in zip(ids, seqs) if s]
    assert parsed == _expected(case)


def test_spaces_inside_sequence_do_not_change_its_length(tmp_path):
    seq = "ACGTACGTAC" * 40  # 400 bases, written with a space every 10 as some exporters do
    spaced = " ".join(seq[i:i + 10] for i in range(0, 400, 10))
    (tmp_path / "s.fa.gz").write_bytes(gzip.compress(f">s1\n{spaced}\n".encode()))
    assert _read(tmp_path / "s.fa.gz") == [("s1", seq)]


@pytest.mark.parametrize("pure", [False, True])
def test_text_before_the_first_header_is_refused(tmp_path, monkeypatch, pure):
    if pure:
        monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    (tmp_path / "c.fa").write_bytes(b"exported by tool X\n>r1\nACGT\n")
    with pytest.raises(InputError, match="FASTA"):
        _read(tmp_path / "c.fa")


@pytest.mark.parametrize("pure", [False, True])
def test_hash_lines_are_skipped_on_every_path(tmp_path, monkeypatch, pure):
    """A deliberate difference: Biopython 1.88 keeps '# note' as the letters '#note' in the sequence
    (garbage codons); dnaio and the compiled splitter skip it as a comment, and so both paths agree."""
    if pure:
        monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    (tmp_path / "h.fa").write_bytes(b">r1\nACGT\n# a note\nACGT\n>r2\nGG\n")
    assert _read(tmp_path / "h.fa") == [("r1", "ACGTACGT"), ("r2", "GG")]
