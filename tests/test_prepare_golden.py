"""`virnucpro prepare` reproduces the original's files record for record (golden data)."""

from __future__ import annotations

import json

import pytest

from conftest import read_fasta


@pytest.mark.parametrize("path", ["compiled", "pure-python"])
@pytest.mark.parametrize("cs", [300, 500])
def test_prepare_matches_original(cs, path, golden_dir, tmp_path, run_cli, monkeypatch):
    if path == "pure-python":
        monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    code, _, err = run_cli("prepare", golden_dir / "input.fa", "-o", tmp_path, "--chunk-size", cs)
    assert code == 0, err
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["record_path"] == ("numpy" if path == "pure-python" else "compiled")
    gold = golden_dir / f"chunk{cs}"
    pairs = [("chunks.fa", "chunked.fa"), ("identified_nucleotide.fa", "identified_nucleotide.fa"),
             ("identified_protein.faa", "identified_protein.faa")]
    for ours, theirs in pairs:
        got, want = read_fasta(tmp_path / ours), read_fasta(gold / theirs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == w
        # byte-identical too: same 60-column wrapping and one-line records
        assert (tmp_path / ours).read_bytes() == (gold / theirs).read_bytes()


def test_default_chunk_size_is_500(golden_dir, tmp_path, run_cli):
    assert run_cli("prepare", golden_dir / "input.fa", "-o", tmp_path)[0] == 0
    assert (tmp_path / "chunks.fa").read_bytes() == (golden_dir / "chunk500" / "chunked.fa").read_bytes()


def test_existing_output_needs_force(golden_dir, tmp_path, run_cli):
    assert run_cli("prepare", golden_dir / "input.fa", "-o", tmp_path)[0] == 0
    code, _, err = run_cli("prepare", golden_dir / "input.fa", "-o", tmp_path)
    assert code == 2 and "--force" in err
    assert run_cli("prepare", golden_dir / "input.fa", "-o", tmp_path, "--force")[0] == 0
