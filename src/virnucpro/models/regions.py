"""Viral regions inside one sequence: a two-state HMM (host, virus) over its chunk scores, decoded with Viterbi.

Each chunk's best virus score s (max score2 over its kept frames) is read as a posterior under even
priors, so it contributes the log-likelihood ratio log(s / (1 - s)) for 'virus' over 'host' (s clipped
to [clip, 1 - clip], so one chunk is worth at most log(1/clip - 1) nats); a chunk without kept frames
contributes nothing either way. Changing state between neighbouring chunks costs log(1/switch_prob)
nats, so an isolated discordant chunk is absorbed and a region needs several concordant chunks. Each
stretch decoded as 'virus' is trimmed to chunks that have frames and kept if it spans at least
`min_length` bp. Pure functions, numpy only.
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
    """

    switch_prob: float = 1e-3
    clip: float = 0.01
    min_length: int = DEFAULT_MIN_REGION_LENGTH

    def __post_init__(self) -> None:
        assert 0 < self.switch_prob < 0.5, self.switch_prob
        assert 0 < self.clip < 0.5, self.clip
        assert self.min_length >= 0, self.min_length


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


def evidence(scores: np.ndarray, clip: float) -> np.ndarray:
    """Per-chunk log-likelihood ratio virus : host.

    Args:
        scores: (C,) best virus score per chunk, NaN for a chunk without kept frames.
        clip: scores are clipped to [clip, 1 - clip].

    Returns:
        (C,) float64, 0 where the score is NaN.
    """
    s = np.clip(np.asarray(scores, np.float64), clip, 1 - clip)  # (C,) NaN stays NaN
    llr = np.log(s) - np.log1p(-s)
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


def find_regions(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, called_virus: np.ndarray,
                 model: RegionModel = RegionModel()) -> list[Region]:
    """The viral regions of one sequence, in position order.

    Args:
        starts: (C,) 0-based chunk starts, in chunk order.
        ends: (C,) exclusive chunk ends.
        scores: (C,) best virus score per chunk, NaN for a chunk without kept frames.
        called_virus: (C,) bool consensus call per chunk (False where there are no frames).
        model: the HMM and length parameters.

    Returns:
        The regions at least `model.min_length` bp long.
    """
    scores = np.asarray(scores, np.float64)
    if len(scores) == 0 or int(ends[-1]) - int(starts[0]) < model.min_length:
        return []
    state = viterbi(evidence(scores, model.clip), model.switch_prob)  # (C,) bool
    has = ~np.isnan(scores)
    regions = []
    for a, b in _runs(state):
        idx = np.flatnonzero(has[a:b]) + a  # trim chunks without frames off the ends
        if len(idx) == 0:
            continue
        a, b = int(idx[0]), int(idx[-1]) + 1
        start, end = int(starts[a]) + 1, int(ends[b - 1])
        if end - start + 1 < model.min_length:
            continue
        kept = scores[a:b][has[a:b]]
        regions.append(Region(start, end, b - a, int(np.count_nonzero(called_virus[a:b])),
                              float(kept.sum() / len(kept))))
    return regions


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True in a bool vector."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))  # alternating run starts and stops
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
