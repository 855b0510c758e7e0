"""The region rule (virnucpro.models.regions) on synthetic chunk-score tracks whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from virnucpro.prep.chunking import chunk_bounds
from virnucpro.models.regions import RegionModel, evidence, find_regions, viterbi
from virnucpro.pipeline.scoring import chunk_is_virus

CS = 300


def _find(starts, ends, scores, model=RegionModel()):
    """find_regions on one-frame chunks: best score1 = 1 - score2, the call is the consensus rule's."""
    scores = np.asarray(scores, np.float64)
    best1 = 1 - scores
    return find_regions(starts, ends, best1, scores, chunk_is_virus(best1, scores), model)


def _track(length: int, viral: list[tuple[int, int]], rng: np.random.Generator, every: int = 7):
    """Chunks of a `length`-bp sequence scored 0.7-1 inside the viral [start, end) spans and 0-0.3 outside,
    with every `every`-th chunk call flipped, except within two chunks of a junction (where a flipped call
    rightly moves the boundary)."""
    _, starts, ends = chunk_bounds(np.array([length]), CS)
    mid = (starts + ends) / 2
    truth = np.zeros(len(starts), bool)
    for a, b in viral:
        truth |= (mid >= a) & (mid < b)
    scores = np.where(truth, rng.uniform(0.7, 1.0, len(truth)), rng.uniform(0.0, 0.3, len(truth)))
    i = np.arange(len(truth))
    junctions = np.flatnonzero(truth[1:] != truth[:-1]) + 0.5  # between chunk j and j + 1
    near = np.abs(i[:, None] - junctions[None, :]).min(axis=1, initial=np.inf) < 3  # (C,)
    flip = (i % every == every // 2) & ~near
    scores = np.where(flip, 1 - scores, scores)
    return starts, ends, scores


@pytest.mark.parametrize("seed", range(5))
def test_insert_found_as_one_region_with_ends_near_junctions(seed):
    rng = np.random.default_rng(seed)
    starts, ends, scores = _track(38_000, [(15_000, 23_000)], rng)
    regions = _find(starts, ends, scores)
    assert len(regions) == 1, regions
    assert abs(regions[0].start - 15_001) <= 2 * CS and abs(regions[0].end - 23_000) <= 2 * CS


@pytest.mark.parametrize("seed", range(3))
def test_two_inserts_and_an_insert_at_a_contig_end_are_separate_regions(seed):
    rng = np.random.default_rng(seed)
    starts, ends, scores = _track(38_000, [(5_000, 13_000), (30_000, 38_000)], rng)
    regions = _find(starts, ends, scores)
    assert [(abs(r.start - a - 1) <= 2 * CS, abs(r.end - b) <= 2 * CS) for r, (a, b) in
            zip(regions, [(5_000, 13_000), (30_000, 38_000)])] == [(True, True)] * 2
    assert len(regions) == 2 and regions[1].end == 38_000


def test_pure_host_with_stray_viral_calls_gives_no_region():
    rng = np.random.default_rng(7)
    starts, ends, scores = _track(38_000, [], rng, every=5)
    assert _find(starts, ends, scores) == []


def test_whole_viral_sequence_is_one_region_spanning_it():
    rng = np.random.default_rng(3)
    starts, ends, scores = _track(38_017, [(0, 38_017)], rng)
    [r] = _find(starts, ends, scores)
    assert (r.start, r.end, r.length, r.n_chunks) == (1, 38_017, 38_017, len(starts))
    assert r.n_viral_chunks == int((scores >= 0.5).sum()) < r.n_chunks
    assert r.mean_virus_score == pytest.approx(scores.mean())


def test_chunks_without_frames_carry_no_evidence_and_are_trimmed_off_region_ends():
    starts, ends = np.arange(12) * 100, np.arange(1, 13) * 100
    scores = np.array([np.nan, np.nan, 0.99, 0.99, np.nan, 0.99, 0.99, np.nan, np.nan, 0.01, 0.01, 0.01])
    [r] = _find(starts, ends, scores, RegionModel(min_length=1))
    assert (r.start, r.end, r.n_chunks, r.n_viral_chunks) == (201, 700, 5, 4)
    assert r.mean_virus_score == pytest.approx(0.99)
    assert _find(starts, ends, np.full(12, np.nan), RegionModel(min_length=1)) == []


def test_region_shorter_than_min_length_is_dropped():
    starts, ends = np.arange(20) * 300, np.arange(1, 21) * 300
    scores = np.r_[np.full(8, 0.01), np.full(4, 0.99), np.full(8, 0.01)]  # a 1200-bp viral stretch
    assert len(_find(starts, ends, scores, RegionModel(min_length=1200))) == 1
    assert _find(starts, ends, scores, RegionModel(min_length=1201)) == []


def test_isolated_discordant_chunks_neither_make_nor_split_a_region():
    scores = np.r_[np.full(10, 0.01), 0.99, 0.99, np.full(10, 0.01), np.full(10, 0.99), 0.01, 0.01, np.full(10, 0.99)]
    path = viterbi(evidence(1 - scores, scores, 0.01), 1e-3)
    assert path.tolist() == [False] * 22 + [True] * 22


def test_viterbi_matches_brute_force_on_short_tracks():
    rng = np.random.default_rng(0)
    stay, switch = np.log1p(-0.2), np.log(0.2)
    for _ in range(50):
        llr = rng.normal(0, 2, rng.integers(1, 9))
        best = max(range(2 ** len(llr)), key=lambda m: _path_score(m, llr, stay, switch))
        want = [(best >> i) & 1 == 1 for i in range(len(llr))]
        got = viterbi(llr, 0.2)
        assert _path_score(sum(1 << i for i, v in enumerate(got) if v), llr, stay, switch) == pytest.approx(
            _path_score(best, llr, stay, switch)), (got, want)


def _path_score(mask: int, llr: np.ndarray, stay: float, switch: float) -> float:
    states = [(mask >> i) & 1 for i in range(len(llr))]
    score = sum(l for l, s in zip(llr, states) if s)
    return score + sum(stay if a == b else switch for a, b in zip(states, states[1:]))


def test_empty_and_single_chunk_tracks():
    assert _find(np.zeros(0, int), np.zeros(0, int), np.zeros(0)) == []
    assert _find(np.array([0]), np.array([250]), np.array([0.9]), RegionModel(min_length=1)) == []  # one call
    [r] = _find(np.array([0]), np.array([250]), np.array([0.9]), RegionModel(min_length=1, min_viral_chunks=1))
    assert (r.start, r.end) == (1, 250)


@pytest.mark.parametrize("fid,seq,k", [("a_chunk_3F2", "a", 3), ("x_chunk_2F1_chunk_13R3", "x_chunk_2F1", 13),
                                       ("NODE_1_length_5_cov_2_chunk_10R1", "NODE_1_length_5_cov_2", 10)])
def test_frame_id_split_takes_the_last_chunk_suffix_even_when_the_id_holds_one(fid, seq, k):
    from virnucpro.models.regions import FRAME_SUFFIX

    m = FRAME_SUFFIX.search(fid)
    assert (fid[:m.start()], int(m.group(1))) == (seq, k)


@pytest.mark.parametrize("cs", [300, 500, 1000, 2000])
def test_1kb_of_frameless_chunks_ends_a_region_at_any_chunk_size(cs):
    gap = -(-1000 // cs)  # chunks that cover 1 kb
    for n_gap, want in ((gap, 2), (gap - 1, 1)):
        scores = np.r_[np.full(10, 0.99), np.full(n_gap, np.nan), np.full(10, 0.99)]
        starts = np.arange(len(scores)) * cs
        assert len(_find(starts, starts + cs, scores)) == want, (cs, n_gap)


def test_regions_need_two_viral_calls_and_half_their_chunks_viral():
    starts = np.arange(30) * 300
    two_apart = np.r_[np.full(10, 0.2), 0.99, np.full(3, np.nan), 0.99, np.full(15, 0.2)]
    cheap = RegionModel(min_length=1, switch_prob=0.2)  # switching costs 1.6 nats: two viral chunks make a region
    assert len(_find(starts, starts + 300, two_apart, cheap)) == 1  # across 3 frameless chunks (900 bp)
    assert _find(starts, starts + 300, np.r_[0.99, 0.99, np.full(28, np.nan)], cheap) != []
    assert _find(starts, starts + 300, np.r_[0.99, np.full(29, np.nan)], cheap) == []  # one viral call
    # confident viral calls outweigh weak 'others' ones in the HMM, but they are fewer than half: no region
    weak = np.r_[np.full(5, 0.01), 0.99, 0.45, 0.45, 0.99, 0.45, 0.45, 0.99, np.full(19, 0.01)][:30]
    assert _find(starts, starts + 300, weak, cheap) == []
