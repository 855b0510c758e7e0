"""Classifier scores and the original's output rows (plus our per-sequence summary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

VIRUS, OTHERS = "virus", "others"


@dataclass
class FrameScores:
    """Per-frame softmax scores: score1 = P(others), score2 = P(virus), float32."""

    score1: np.ndarray  # (F,)
    score2: np.ndarray  # (F,)

    @property
    def is_virus(self) -> np.ndarray:
        return self.score2 > self.score1  # argmax over (others, virus); a tie goes to others


def unscored(n: int) -> FrameScores:
    """NaN scores for `extract` runs (no classifier): their sealed units list frames, the embeddings are the product."""
    return FrameScores(np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32))


def classify(classifier: torch.nn.Module, features: torch.Tensor) -> FrameScores:
    """Softmax over the classifier's two logits, in fp32 on the CPU."""
    import torch

    if len(features) == 0:
        return FrameScores(np.zeros(0, np.float32), np.zeros(0, np.float32))
    with torch.inference_mode():
        probs = torch.softmax(classifier(features.float()), dim=1).numpy().astype(np.float32)  # (F, 2)
    if not np.isfinite(probs).all():  # one reduction per unit: NaN/inf embeddings or weights are never written
        from virnucpro.errors import IntegrityError

        raise IntegrityError("the classifier gave NaN or infinite scores (non-finite embeddings: damaged encoder "
                             "weights or an fp16 overflow): nothing was written; check the models, or use "
                             "--precision fp32")
    return FrameScores(probs[:, 0], probs[:, 1])


def prediction_rows(frame_ids: list[str], s: FrameScores) -> str:
    """`Sequence_ID\\tPrediction\\tscore1\\tscore2` rows; scores as str(numpy.float32) like the original."""
    labels = np.where(s.is_virus, VIRUS, OTHERS).tolist()
    return "".join(f"{fid}\t{lab}\t{str(a)}\t{str(b)}\n" for fid, lab, a, b in zip(frame_ids, labels, s.score1, s.score2))


@dataclass
class ChunkCalls:
    """Consensus per chunk with at least one kept frame: the most confident frame decides."""

    chunk_index: np.ndarray  # (K,) chunk index in the batch
    max_score1: np.ndarray  # (K,)
    max_score2: np.ndarray  # (K,)

    @property
    def is_virus(self) -> np.ndarray:
        return chunk_is_virus(self.max_score1, self.max_score2)


def chunk_is_virus(max_score1: np.ndarray, max_score2: np.ndarray) -> np.ndarray:
    """The chunk call (Is_Virus): the chunk's best virus score against its best non-virus score, over its kept
    frames; ties go to virus, as in the original. regions.tsv uses the same call."""
    return max_score2 >= max_score1


def chunk_calls(frame_chunk: np.ndarray, s: FrameScores, num_chunks: int) -> ChunkCalls:
    m1 = np.full(num_chunks, -np.inf, np.float32)
    m2 = np.full(num_chunks, -np.inf, np.float32)
    np.maximum.at(m1, frame_chunk, s.score1)
    np.maximum.at(m2, frame_chunk, s.score2)
    has = np.zeros(num_chunks, bool)
    has[frame_chunk] = True
    idx = np.flatnonzero(has)
    return ChunkCalls(idx, m1[idx], m2[idx])


def consensus_rows(frame_ids: list[str], frame_chunk: np.ndarray, calls: ChunkCalls) -> list[tuple[str, str]]:
    """(Modified_ID, 'True'/'False') per chunk; Modified_ID = a frame ID minus its last 2 characters."""
    first_frame = {}
    for fid, c in zip(frame_ids, frame_chunk.tolist()):
        first_frame.setdefault(c, fid)
    return [(first_frame[c][:-2], str(bool(v))) for c, v in zip(calls.chunk_index.tolist(), calls.is_virus.tolist())]


def sequence_rows(ids: list[str], lengths: np.ndarray, chunk_record: np.ndarray, calls: ChunkCalls,
                  frame_chunk: np.ndarray, s: FrameScores) -> str:
    """One summary row per input sequence (see README: verdict rule)."""
    n = len(ids)
    n_chunks = np.bincount(chunk_record, minlength=n)
    rec_of_call = chunk_record[calls.chunk_index]
    with_frames = np.bincount(rec_of_call, minlength=n)
    viral = np.bincount(rec_of_call, weights=calls.is_virus, minlength=n).astype(int)
    chunk_best = np.bincount(rec_of_call, weights=calls.max_score2.astype(np.float64), minlength=n)
    max_v = np.full(n, -np.inf, np.float32)
    np.maximum.at(max_v, chunk_record[frame_chunk], s.score2)
    rows = []
    for i in range(n):
        k = int(with_frames[i])
        if k == 0:
            rows.append(f"{ids[i]}\t{int(lengths[i])}\t{int(n_chunks[i])}\t0\t0\tNA\tNA\tNA\tno_frames\n")
            continue
        frac = viral[i] / k
        verdict = VIRUS if frac >= 0.5 else OTHERS
        rows.append(f"{ids[i]}\t{int(lengths[i])}\t{int(n_chunks[i])}\t{k}\t{int(viral[i])}\t{frac:.4f}\t"
                    f"{str(max_v[i])}\t{chunk_best[i] / k:.6g}\t{verdict}\n")
    return "".join(rows)
