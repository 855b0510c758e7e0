"""Six-frame translation and frame selection (prediction mode), vectorised over many chunks.

Rules (kept from the original, quirks included): chunks are uppercased; the reverse strand is the
reverse of the chunk with A<->T and C<->G swapped, other characters unchanged; codons are read at
f, f+3, ... while i <= len-3; a codon containing anything but ACGT translates to nothing (dropped);
a frame is kept iff its protein is non-empty and has no '*'; the paired nucleotide slice of frame
n (1..3) on strand t is t[n-1 : n + 3*len(protein)], clipped.

Work is O(total bases): stop and validity counts per frame come from per-residue-class prefix sums
over one concatenated buffer; only kept frames are materialised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BASES = "TCAG"
AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"  # standard code, TCAG order
STRAND_NAMES = ("F1", "F2", "F3", "R1", "R2", "R3")


def _luts() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    upper = np.arange(256, dtype=np.uint8)
    upper[ord("a"):ord("z") + 1] -= 32
    code = np.full(256, 4, dtype=np.uint8)  # A0 C1 G2 T3, anything else 4 (invalid)
    for i, b in enumerate("ACGT"):
        code[ord(b)] = i
    comp = np.arange(256, dtype=np.uint8)
    for a, b in ("AT", "TA", "CG", "GC"):
        comp[ord(a)] = ord(b)
    aa = np.zeros(64, dtype=np.uint8)  # index 16*c1 + 4*c2 + c3 with A0 C1 G2 T3
    for i1, b1 in enumerate(BASES):
        for i2, b2 in enumerate(BASES):
            for i3, b3 in enumerate(BASES):
                idx = 16 * "ACGT".index(b1) + 4 * "ACGT".index(b2) + "ACGT".index(b3)
                aa[idx] = ord(AMINO[16 * i1 + 4 * i2 + i3])
    return upper, code, comp, aa


UPPER, CODE, COMP, AA = _luts()


@dataclass
class Frames:
    """Kept frames of a set of chunks, in chunk order then F1 F2 F3 R1 R2 R3."""

    chunk: np.ndarray  # (F,) index of the frame's chunk
    frame: np.ndarray  # (F,) 0..5 (F1..F3, R1..R3)
    proteins: list[str]
    nucleotides: list[str]


def _class_cumsum(x: np.ndarray) -> np.ndarray:
    """Inclusive prefix sum over positions of the same residue mod 3: out[p] = sum x[q], q<=p, q≡p (3)."""
    n = len(x)
    pad = np.zeros(-(-n // 3) * 3, dtype=np.int32)
    pad[:n] = x
    return pad.reshape(-1, 3).cumsum(axis=0, dtype=np.int32).ravel()[:n]


def _range_count(csum: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of x over lo, lo+3, ..., hi (hi ≡ lo mod 3, hi >= lo)."""
    return csum[hi] - csum[lo] + x[lo]


def translate_chunks(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> Frames:
    """Translate chunks `buf[start:end]` in six frames and keep the stop-free, non-empty ones.

    Args:
        buf: (N,) uint8 ASCII bases of the concatenated sequences (any case).
        start, end: (C,) int64 chunk boundaries in `buf`, end - start >= 1.
    """
    up = UPPER[buf]  # (N,)
    code = np.concatenate([CODE[up], np.full(2, 4, np.uint8)]).astype(np.int16)  # (N+2,)
    valid = ((code[:-2] < 4) & (code[1:-1] < 4) & (code[2:] < 4)).astype(np.int32)  # (N,) codon at p is ACGT-only
    c = np.minimum(code, 3)
    fidx = 16 * c[:-2] + 4 * c[1:-1] + c[2:]  # (N,) forward codon p..p+2
    ridx = 16 * (3 - c[2:]) + 4 * (3 - c[1:-1]) + (3 - c[:-2])  # (N,) reverse-strand codon over p..p+2
    fstop = valid * (AA[fidx] == ord("*"))
    rstop = valid * (AA[ridx] == ord("*"))
    cv, cf, cr = _class_cumsum(valid), _class_cumsum(fstop), _class_cumsum(rstop)

    lc = (end - start)[:, None]  # (C,1)
    f = np.arange(3)[None, :]  # (1,3)
    m = np.maximum((lc - f) // 3, 0)  # (C,3) codons per frame
    has = m > 0
    # forward frame f: positions start+f ... start+f+3(m-1); reverse: end-3-f-3(m-1) ... end-3-f
    f_lo = np.where(has, start[:, None] + f, 0)
    f_hi = np.where(has, f_lo + 3 * (m - 1), 0)
    r_hi = np.where(has, end[:, None] - 3 - f, 0)
    r_lo = np.where(has, r_hi - 3 * (m - 1), 0)
    lo = np.concatenate([f_lo, r_lo], axis=1)  # (C,6)
    hi = np.concatenate([f_hi, r_hi], axis=1)
    n_aa = np.where(np.concatenate([has, has], 1), _range_count(cv, valid, lo, hi), 0)  # (C,6) protein length
    n_stop = np.concatenate([_range_count(cf, fstop, f_lo, f_hi), _range_count(cr, rstop, r_lo, r_hi)], 1)
    keep = (n_aa > 0) & (n_stop == 0)
    chunk, frame = np.nonzero(keep)  # row-major: chunk order, then F1..R3
    return _materialise(up, valid, fidx, ridx, start, end, lo, hi, chunk, frame, n_aa[chunk, frame])


def _materialise(up, valid, fidx, ridx, start, end, lo, hi, chunk, frame, plen) -> Frames:
    """Build protein strings and paired nucleotide slices of the kept frames."""
    lo_k, hi_k = lo[chunk, frame], hi[chunk, frame]
    reverse = frame >= 3
    ncod = (hi_k - lo_k) // 3 + 1  # (F,) codon positions per kept frame
    offs = np.cumsum(ncod) - ncod
    step = np.arange(int(ncod.sum())) - np.repeat(offs, ncod)  # codon index inside its frame
    rev_rep = np.repeat(reverse, ncod)
    pos = np.where(rev_rep, np.repeat(hi_k, ncod) - 3 * step, np.repeat(lo_k, ncod) + 3 * step)  # reading order
    ok = valid[pos].astype(bool)
    aa = AA[np.where(rev_rep, ridx[pos], fidx[pos])[ok]].tobytes().decode("ascii")
    proteins = _split(aa, plen)

    fnum = frame % 3
    lc = end[chunk] - start[chunk]
    stop = np.minimum(lc, fnum + 1 + 3 * plen)  # slice t[f : f+1+3*plen] clipped at len
    fwd_text = up.tobytes().decode("ascii")
    rc_text = COMP[up][::-1].tobytes().decode("ascii")  # rc_text[N-1-g] = comp(up[g])
    n = len(up)
    a = np.where(reverse, n - end[chunk] + fnum, start[chunk] + fnum)
    b = np.where(reverse, n - end[chunk] + stop, start[chunk] + stop)
    nucleotides = [(rc_text if r else fwd_text)[i:j] for r, i, j in zip(reverse.tolist(), a.tolist(), b.tolist())]
    return Frames(chunk, frame, proteins, nucleotides)


def _split(text: str, lengths: np.ndarray) -> list[str]:
    ends = np.cumsum(lengths).tolist()
    starts = [0] + ends[:-1]
    return [text[i:j] for i, j in zip(starts, ends)]
