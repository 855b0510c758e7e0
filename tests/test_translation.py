"""Vectorised six-frame translation equals the per-codon reference on random and hand-made input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.prep.prepare import prepare_batch
from virnucpro.prep.reference import prepare_records
from virnucpro.io.seqio import RecordBatch

ALPHABET = "ACGTacgtNnRYKMSWBDHVUu-"


def _check(seqs: list[str], cs: int) -> None:
    ids = [f"s{i}" for i in range(len(seqs))]
    got = prepare_batch(RecordBatch(ids, seqs), cs)
    want_chunks, want_frames = [], []
    for chunks, frames in prepare_records(list(zip(ids, seqs)), cs):
        want_chunks += chunks
        want_frames += frames
    assert list(zip(got.chunk_ids, got.chunk_seqs)) == want_chunks
    assert list(zip(got.frame_ids, got.nucleotides, got.proteins)) == want_frames


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ACGT", min_size=1, max_size=700), min_size=1, max_size=8),
       st.sampled_from([3, 7, 50, 300, 500]))
def test_random_acgt(seqs, cs):
    _check(seqs, cs)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=400), min_size=1, max_size=8),
       st.sampled_from([1, 2, 5, 300]))
def test_random_with_ambiguity_case_and_rna(seqs, cs):
    _check(seqs, cs)


def test_stop_free_coding_sequences_keep_frames():
    rng = np.random.default_rng(0)
    sense = [c for c in (a + b + d for a in "ACGT" for b in "ACGT" for d in "ACGT") if c not in ("TAA", "TAG", "TGA")]
    seqs = ["".join(rng.choice(sense, size=n)) for n in (1, 100, 166, 167, 400)]
    _check(seqs, 500)
    assert len(prepare_batch(RecordBatch(["x"], [seqs[2]]), 500).frame_ids) >= 1


def test_spec_example_misaligned_slice():
    p = prepare_batch(RecordBatch(["x"], ["ATGGCTNNNAAAGGTTTCGCA"]), 500)
    i = p.frame_ids.index("x_chunk_1F1")
    assert p.proteins[i] == "MAKGFA"
    assert p.nucleotides[i] == "ATGGCTNNNAAAGGTTTCG"


def test_hand_made_cases():
    cs = 300
    cases = ["A", "AC", "ATG", "atggcc" * 60, "N" * 50 + "ATGAAA" * 20, "AUGGCC" * 20, "ATGRYKAAA" * 9,
             "ATG" * 100, "ATG" * 100 + "C", "ATG" * 200 + "C", "TTA" * 3]
    _check(cases, cs)
    p = prepare_batch(RecordBatch(["lc"], ["atggcc"]), cs)
    assert p.chunk_seqs == ["atggcc"]  # chunk file keeps the input case
    assert p.nucleotides[0] == "ATGGCC"  # frames are uppercased


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=600), min_size=1, max_size=8),
       st.sampled_from([3, 300, 500]))
def test_count_batch_matches_prepare(seqs, cs):
    from virnucpro.prep.prepare import count_batch

    batch = RecordBatch([f"s{i}" for i in range(len(seqs))], seqs)
    p = prepare_batch(batch, cs)
    assert count_batch(batch, cs) == (len(p.chunk_ids), len(p.frame_ids))
