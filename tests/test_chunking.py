"""Chunking closed form vs the original's loop, plus the documented quirks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.prep.chunking import chunk_bounds, chunk_numbers
from virnucpro.prep.reference import chunks_loop


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=20), st.integers(1, 700))
def test_closed_form_equals_loop(lengths, cs):
    rec, start, end = chunk_bounds(np.array(lengths), cs)
    got = list(zip(rec.tolist(), start.tolist(), end.tolist()))
    want = [(i, a, b) for i, L in enumerate(lengths) for a, b in chunks_loop(L, cs)]
    assert got == want


def test_documented_quirks():
    assert chunks_loop(800, 500) == [(0, 500), (399, 800)]
    assert chunks_loop(601, 300) == [(0, 300), (200, 500), (400, 601)]
    rec, start, end = chunk_bounds(np.array([800, 601, 10]), 300)
    assert list(zip(start.tolist(), end.tolist()))[3:6] == [(0, 300), (200, 500), (400, 601)]


def test_edge_lengths():
    cs = 300
    for L, want in [(1, [(0, 1)]), (2, [(0, 2)]), (3, [(0, 3)]), (cs, [(0, cs)]),
                    (cs + 1, [(0, 300), (150, 301)]), (2 * cs + 1, [(0, 300), (200, 500), (400, 601)])]:
        _, s, e = chunk_bounds(np.array([L]), cs)
        assert list(zip(s.tolist(), e.tolist())) == want == chunks_loop(L, cs)


def test_chunk_numbers():
    assert chunk_numbers(np.array([0, 0, 0, 1, 2, 2])).tolist() == [1, 2, 3, 1, 1, 2]
    assert chunk_numbers(np.array([], dtype=np.int64)).tolist() == []
