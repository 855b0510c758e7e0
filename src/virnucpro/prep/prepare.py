"""The preparation stage: records -> overlapping chunks -> kept six-frame ORFs (IDs, slices, proteins)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from virnucpro.prep.chunking import chunk_bounds, chunk_numbers
from virnucpro.io.seqio import RecordBatch
from virnucpro.prep.translation import STRAND_NAMES, Frames, count_kept_frames, translate_chunks

WINDOW_BASES = 1 << 22  # translation works on at most this many bases at a time (its temporaries are ~16x)


@dataclass
class PreparedBatch:
    """Chunks and kept frames of a batch of records, in input, chunk and frame order."""

    ids: list[str]  # record IDs
    lengths: np.ndarray  # (S,) record lengths
    chunk_ids: list[str]
    chunk_seqs: list[str]  # input case, as in the original's chunk file
    chunk_record: np.ndarray  # (C,) record index of each chunk
    frame_ids: list[str]
    frame_chunk: np.ndarray  # (F,) chunk index of each frame
    nucleotides: list[str]  # (F,) paired nucleotide slices (uppercase)
    proteins: list[str]  # (F,)


def _layout(batch: RecordBatch, chunk_size: int):
    """Records laid end to end: (lengths (S,), text, buf (N,) uint8, chunk record (C,), chunk start/end in buf (C,))."""
    lengths = np.fromiter(map(len, batch.seqs), dtype=np.int64, count=len(batch.seqs))
    text = "".join(batch.seqs)
    buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8)  # (N,)
    offsets = np.cumsum(lengths) - lengths  # (S,)
    rec, start, end = chunk_bounds(lengths, chunk_size)
    return lengths, text, buf, rec, offsets[rec] + start, offsets[rec] + end


def prepare_batch(batch: RecordBatch, chunk_size: int) -> PreparedBatch:
    """Chunk and translate one batch of non-empty records exactly as the original does."""
    lengths, text, buf, rec, gstart, gend = _layout(batch, chunk_size)
    ids = batch.ids
    if len(rec) == len(ids):  # every record is one chunk (all reads <= cs): chunks are the records themselves
        chunk_ids = [f"{i}_chunk_1" for i in ids]
        chunk_seqs = list(batch.seqs)
    else:
        chunk_ids = [f"{ids[r]}_chunk_{k}" for r, k in zip(rec.tolist(), chunk_numbers(rec).tolist())]
        chunk_seqs = [text[a:b] for a, b in zip(gstart.tolist(), gend.tolist())]
    frames = _translate_in_windows(buf, gstart, gend)
    frame_ids = [chunk_ids[c] + STRAND_NAMES[f] for c, f in zip(frames.chunk.tolist(), frames.frame.tolist())]
    return PreparedBatch(ids, lengths, chunk_ids, chunk_seqs, rec, frame_ids, frames.chunk,
                         frames.nucleotides, frames.proteins)


def count_batch(batch: RecordBatch, chunk_size: int) -> tuple[int, int]:
    """(chunks, kept frames) of a batch, without building IDs or sequences (the validating scan pass)."""
    _, _, buf, rec, gstart, gend = _layout(batch, chunk_size)
    return len(rec), sum(count_kept_frames(buf[a:b], gstart[c0:c1] - a, gend[c0:c1] - a)
                         for c0, c1, a, b in chunk_windows(gstart, gend))


def chunk_windows(gstart: np.ndarray, gend: np.ndarray, max_bases: int = WINDOW_BASES) -> list[tuple[int, int, int, int]]:
    """Consecutive chunk ranges (c0, c1) and the bases [a, b) they span, each at most `max_bases` long (or one
    chunk): a long record is translated window by window, with the same result (a chunk's frames depend on
    its own bases only) and memory bounded by the window, not the record. `gend` is non-decreasing."""
    out, c0, n = [], 0, len(gstart)
    while c0 < n:
        c1 = max(c0 + 1, int(np.searchsorted(gend, gstart[c0] + max_bases, side="right")))
        out.append((c0, c1, int(gstart[c0]), int(gend[c0:c1].max())))
        c0 = c1
    return out


def _translate_in_windows(buf: np.ndarray, gstart: np.ndarray, gend: np.ndarray) -> Frames:
    parts = [(c0, translate_chunks(buf[a:b], gstart[c0:c1] - a, gend[c0:c1] - a))
             for c0, c1, a, b in chunk_windows(gstart, gend)]
    if len(parts) == 1:
        return parts[0][1]
    return Frames(np.concatenate([f.chunk + c0 for c0, f in parts]), np.concatenate([f.frame for _, f in parts]),
                  [p for _, f in parts for p in f.proteins], [x for _, f in parts for x in f.nucleotides])


def slice_records(b: PreparedBatch, a: int, z: int) -> PreparedBatch:
    """The records a..z-1 of a batch, with their chunks and frames (indices renumbered from 0)."""
    c0, c1 = np.searchsorted(b.chunk_record, [a, z])
    f0, f1 = np.searchsorted(b.frame_chunk, [c0, c1])
    return PreparedBatch(b.ids[a:z], b.lengths[a:z], b.chunk_ids[c0:c1], b.chunk_seqs[c0:c1],
                         b.chunk_record[c0:c1] - a, b.frame_ids[f0:f1], b.frame_chunk[f0:f1] - c0,
                         b.nucleotides[f0:f1], b.proteins[f0:f1])


def concat_batches(parts: list[PreparedBatch]) -> PreparedBatch:
    """Concatenate batches in order (record and chunk indices shifted)."""
    rec_off = np.cumsum([0] + [len(p.ids) for p in parts])
    chunk_off = np.cumsum([0] + [len(p.chunk_ids) for p in parts])
    cat = lambda attr: [x for p in parts for x in getattr(p, attr)]  # noqa: E731
    return PreparedBatch(
        cat("ids"), np.concatenate([p.lengths for p in parts]), cat("chunk_ids"), cat("chunk_seqs"),
        np.concatenate([p.chunk_record + o for p, o in zip(parts, rec_off)]), cat("frame_ids"),
        np.concatenate([p.frame_chunk + o for p, o in zip(parts, chunk_off)]), cat("nucleotides"), cat("proteins"))


def frames_per_record(b: PreparedBatch) -> np.ndarray:
    """(S,) number of kept frames of each record."""
    return np.bincount(b.chunk_record[b.frame_chunk], minlength=len(b.ids))
