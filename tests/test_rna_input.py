"""RNA input (U for T) is read as the same DNA, with a warning: never every frame kept by dropped codons."""

from __future__ import annotations

import logging
import random

import pytest

from virnucpro.io.seqio import read_inputs


def _dna(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"s{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(300, 900)))) for i in range(n)]


def _write(path, recs, rna: bool):
    path.write_text("".join(f">{i}\n{s.replace('T', 'U') if rna else s}\n" for i, s in recs))
    return path


@pytest.mark.parametrize("pure", [False, True])
def test_rna_reads_as_the_same_dna_with_a_warning(tmp_path, monkeypatch, caplog, pure):
    if pure:
        monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    recs = _dna(5, 1)
    with caplog.at_level(logging.WARNING, logger="virnucpro"):
        got = [(i, s) for b in read_inputs([str(_write(tmp_path / "r.fa", recs, True))]) for i, s in zip(b.ids, b.seqs)]
    assert got == recs
    assert "read U as T in 5 RNA record(s)" in caplog.text and "'s0'" in caplog.text


def test_lowercase_u_reads_as_lowercase_t(tmp_path):
    (tmp_path / "r.fa").write_text(">a\nacgu\n>b\nACGT\n")
    assert [s for b in read_inputs([str(tmp_path / "r.fa")]) for s in b.seqs] == ["acgt", "ACGT"]


def test_rna_prepare_equals_dna_prepare(tmp_path, run_cli):
    recs = _dna(6, 2)
    for name, rna in (("dna", False), ("rna", True)):
        code, _, err = run_cli("prepare", _write(tmp_path / f"{name}.fa", recs, rna), "-o", tmp_path / name, "-q")
        assert code == 0, err
    for out in ("chunks.fa", "identified_nucleotide.fa", "identified_protein.faa"):
        assert (tmp_path / "dna" / out).read_bytes() == (tmp_path / "rna" / out).read_bytes()
