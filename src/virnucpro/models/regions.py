"""Viral regions inside one sequence: a two-state HMM (host, virus) over its chunk calls, decoded with Viterbi.

A chunk's evidence follows the chunk call itself (prediction_results_highestscore.csv: the chunk is viral when
its best virus score m2 >= its best non-virus score m1, each the max over its kept frames): it contributes
log(m2 / m1) nats for 'virus' over 'host', both clipped to [clip, 1 - clip] (one chunk is worth at most
log(1/clip - 1) nats), so its sign is the call's; with one kept frame m1 = 1 - m2 and this is log(s / (1 - s)).
A chunk without kept frames contributes nothing, and a long stretch of them (a gap: chunks covering at least
`gap_bp` bp) ends a region: the HMM is decoded on each stretch between gaps on its own. Changing state between
neighbouring chunks costs log(1/switch_prob) nats, so an isolated discordant chunk is absorbed. Each stretch
decoded as 'virus' is trimmed to chunks that have frames and reported only where the chunk calls agree: at
least `min_viral_chunks` viral chunks, at least half of its chunks with frames viral, and `min_length` bp.
Pure functions, numpy only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

DEFAULT_MIN_REGION_LENGTH = 1000
FRAME_SUFFIX = re.compile(r"_chunk_(\d+)[FR][123]\Z")  # frame ID = {seq_id}_chunk_{k}{F|R}{1..3}, k 1-based


@dataclass(frozen=True)
class RegionModel:
    """Parameters of the region rule (defaults: README, "Viral regions").

    switch_prob: chance that the state changes between consecutive chunks; 1e-3 makes a switch cost
        6.9 nats, so entering and leaving a region (13.8 nats) needs three or more confidently viral
        chunks, and one or two stray chunk calls neither make nor split a region.
    clip: chunk scores are clipped to [clip, 1 - clip]; 0.01 caps one chunk at log(99) = 4.6 nats, so no
        single over-confident chunk outweighs a switch.
    min_length: shortest region reported, in bp (from the first chunk's start to the last chunk's end).
    min_viral_chunks: fewest chunks called viral in a reported region (one chunk call is not a region).
    gap_bp: a run of consecutive chunks without kept frames (every frame has a stop, or N) ends a region when
        its chunks cover at least gap_bp bp (the sum of their lengths): 4 chunks at size 300, 2 at size 500, 1 of
        1 kb or more. 1 kb without any stop-free frame is rare inside coding-dense viral DNA, while the spacers
        between viral genes (tens to a few hundred bp: one or two such chunks) must not split a provirus.
    """

    switch_prob: float = 1e-3
    clip: float = 0.01
    min_length: int = DEFAULT_MIN_REGION_LENGTH
    min_viral_chunks: int = 2
    gap_bp: int = 1000

    def __post_init__(self) -> None:
        assert 0 < self.switch_prob < 0.5, self.switch_prob
        assert 0 < self.clip < 0.5, self.clip
        assert self.min_length >= 0, self.min_length
        assert self.min_viral_chunks >= 1 and self.gap_bp >= 1, self


@dataclass(frozen=True)
class Region:
    """One viral region: 1-based inclusive coordinates on the input sequence."""

    start: int
    end: int
    n_chunks: int
    n_viral_chunks: int  # chunks of the region called virus by the consensus rule
    mean_virus_score: float  # mean best virus score over the region's chunks with frames

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def evidence(best1: np.ndarray, best2: np.ndarray, clip: float) -> np.ndarray:
    """Per-chunk log-likelihood ratio virus : host, of the chunk call's sign.

    Args:
        best1: (C,) best non-virus score (max score1 over the chunk's kept frames), NaN without kept frames.
        best2: (C,) best virus score (max score2), NaN without kept frames.
        clip: scores are clipped to [clip, 1 - clip].

    Returns:
        (C,) float64 log(best2 / best1), 0 where there are no frames (or the two tie).
    """
    m1 = np.clip(np.asarray(best1, np.float64), clip, 1 - clip)  # (C,) NaN stays NaN
    m2 = np.clip(np.asarray(best2, np.float64), clip, 1 - clip)
    llr = np.log(m2) - np.log(m1)
    return np.where(np.isnan(llr), 0.0, llr)


def viterbi(llr: np.ndarray, switch_prob: float) -> np.ndarray:
    """Most likely state path of the two-state HMM (equal start probabilities).

    Args:
        llr: (C,) per-chunk log-likelihood ratio virus : host (host emission taken as 0).
        switch_prob: probability of changing state between neighbouring chunks.

    Returns:
        (C,) bool, True where the chunk is decoded as virus. Ties keep the current state, and a final
        tie ends in host, so the decoding is deterministic.
    """
    n = len(llr)
    if n == 0:
        return np.zeros(0, bool)
    stay, switch = math.log1p(-switch_prob), math.log(switch_prob)
    host, virus = 0.0, float(llr[0])  # log-scores of the best paths ending in each state (shared log 0.5 dropped)
    from_switch = np.zeros((n, 2), bool)  # (C, state) the best path into this state came from the other state
    for i in range(1, n):
        h_stay, h_sw = host + stay, virus + switch
        v_stay, v_sw = virus + stay, host + switch
        from_switch[i, 0], from_switch[i, 1] = h_sw > h_stay, v_sw > v_stay
        host, virus = max(h_stay, h_sw), max(v_stay, v_sw) + float(llr[i])
    path = np.zeros(n, bool)
    state = int(virus > host)
    for i in range(n - 1, -1, -1):
        path[i] = bool(state)
        if from_switch[i, state]:
            state = 1 - state
    return path


def find_regions(starts: np.ndarray, ends: np.ndarray, best1: np.ndarray, best2: np.ndarray,
                 called_virus: np.ndarray, model: RegionModel = RegionModel()) -> list[Region]:
    """The viral regions of one sequence, in position order.

    Args:
        starts: (C,) 0-based chunk starts, in chunk order.
        ends: (C,) exclusive chunk ends.
        best1: (C,) best non-virus score per chunk, NaN for a chunk without kept frames.
        best2: (C,) best virus score per chunk, NaN for a chunk without kept frames.
        called_virus: (C,) bool consensus call per chunk (best2 >= best1; False where there are no frames).
        model: the HMM, gap, agreement and length parameters.

    Returns:
        The regions where the chunk calls agree (see the module docstring).
    """
    best2 = np.asarray(best2, np.float64)
    if len(best2) == 0 or int(ends[-1]) - int(starts[0]) < model.min_length:
        return []
    llr = evidence(best1, best2, model.clip)  # (C,)
    has = ~np.isnan(best2)  # (C,) chunk kept a frame
    regions = []
    for lo, hi in between_gaps(starts, ends, has, model):
        for a, b in _runs(viterbi(llr[lo:hi], model.switch_prob)):
            region = _region(starts, ends, best2, called_virus, has, lo + a, lo + b, model)
            if region is not None:
                regions.append(region)
    return regions


def between_gaps(starts: np.ndarray, ends: np.ndarray, has: np.ndarray, model: RegionModel) -> list[tuple[int, int]]:
    """[lo, hi) stretches of chunks between gaps (runs of frameless chunks whose lengths add up to `gap_bp` or more)."""
    width = np.asarray(ends, np.int64) - np.asarray(starts, np.int64)  # (C,) chunk lengths
    cuts = [(a, b) for a, b in _runs(~has) if int(width[a:b].sum()) >= model.gap_bp]
    bounds = [0, *[x for cut in cuts for x in cut], len(has)]  # alternating stretch starts and stops
    return [(lo, hi) for lo, hi in zip(bounds[::2], bounds[1::2]) if hi > lo]


def _region(starts: np.ndarray, ends: np.ndarray, best2: np.ndarray, called: np.ndarray, has: np.ndarray, a: int,
            b: int, model: RegionModel) -> Region | None:
    """Chunks [a, b) decoded as virus, trimmed to chunks with frames; None unless the calls agree and it is long
    enough."""
    idx = np.flatnonzero(has[a:b]) + a  # trim chunks without frames off the ends
    if len(idx) == 0:
        return None
    a, b = int(idx[0]), int(idx[-1]) + 1
    start, end = int(starts[a]) + 1, int(ends[b - 1])
    n_viral = int(np.count_nonzero(called[a:b] & has[a:b]))
    if end - start + 1 < model.min_length or n_viral < model.min_viral_chunks or 2 * n_viral < len(idx):
        return None
    kept = best2[a:b][has[a:b]]
    return Region(start, end, b - a, n_viral, float(kept.sum() / len(kept)))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True in a bool vector."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))  # alternating run starts and stops
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def region_model(parameters: dict) -> RegionModel:
    """The region rule of a run, from its recorded parameters (runs before regions: the default length)."""
    return RegionModel(min_length=int(parameters.get("min_region_length", DEFAULT_MIN_REGION_LENGTH)))
