"""Six-frame translation and frame selection (prediction mode), vectorised over many chunks.

Rules (kept from the original, quirks included): chunks are uppercased; the reverse strand is the
reverse of the chunk with A<->T and C<->G swapped, other characters unchanged; codons are read at
f, f+3, ... while i <= len-3; a codon containing anything but ACGT translates to nothing (dropped);
a frame is kept iff its protein is non-empty and has no '*'; the paired nucleotide slice of frame
n (1..3) on strand t is t[n-1 : n + 3*len(protein)], clipped.

Work is O(total bases) in numpy: every position p of one concatenated buffer gets a codon class
(p..p+2); per-frame stop/valid counts come from prefix sums over positions of equal residue mod 3;
proteins are plain string slices of per-residue-class translations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"  # standard code, TCAG order
STRAND_NAMES = ("F1", "F2", "F3", "R1", "R2", "R3")
DROPPED = "#"  # placeholder for codons with non-ACGT characters (they translate to nothing)
VALID, FSTOP, RSTOP = 1, 2, 4  # codon flag bits


def _luts() -> tuple[np.ndarray, ...]:
    """Lookup tables: UPPER, CODE (A0 C1 G2 T3 else 4), COMP, and per 5-ary codon (25a+5b+c): FLAGS, FAA, RAA."""
    upper = np.arange(256, dtype=np.uint8)
    upper[ord("a"):ord("z") + 1] -= 32
    code = np.full(256, 4, dtype=np.uint8)
    for i, b in enumerate("ACGT"):
        code[ord(b)] = i
    comp = np.arange(256, dtype=np.uint8)
    for a, b in ("AT", "TA", "CG", "GC"):
        comp[ord(a)] = ord(b)
    table = {x + y + z: AMINO[16 * i + 4 * j + k] for i, x in enumerate("TCAG") for j, y in enumerate("TCAG")
             for k, z in enumerate("TCAG")}
    flags = np.zeros(125, np.uint8)
    faa = np.full(125, ord(DROPPED), np.uint8)
    raa = np.full(125, ord(DROPPED), np.uint8)
    for a in range(4):
        for b in range(4):
            for c in range(4):
                idx = 25 * a + 5 * b + c
                fwd = table["ACGT"[a] + "ACGT"[b] + "ACGT"[c]]
                rev = table["TGCA"[c] + "TGCA"[b] + "TGCA"[a]]  # reverse complement of the same 3 bases
                faa[idx], raa[idx] = ord(fwd), ord(rev)
                flags[idx] = VALID | (FSTOP if fwd == "*" else 0) | (RSTOP if rev == "*" else 0)
    return upper, code, comp, flags, faa, raa


UPPER, CODE, COMP, FLAGS, FAA, RAA = _luts()
CODE_ANY_CASE = CODE[UPPER]  # codes straight from raw bytes (lowercase too)


@dataclass
class Frames:
    """Kept frames of a set of chunks, in chunk order then F1 F2 F3 R1 R2 R3."""

    chunk: np.ndarray  # (F,) index of the frame's chunk
    frame: np.ndarray  # (F,) 0..5 (F1..F3, R1..R3)
    proteins: list[str]
    nucleotides: list[str]


def _class_cumsum(x: np.ndarray, lut: np.ndarray | None = None) -> np.ndarray:
    """Prefix sums per residue class: out[r, i] = sum of v[3j + r] for j <= i, v = lut[x] (or x).

    Shape (3, ceil(N/3)); the lookup is fused into the per-class copy (no N-long int64 temporary).
    """
    k = -(-len(x) // 3)
    rows = np.zeros((3, k), dtype=np.int64)  # row r holds v[r::3], contiguous so cumsum is fast
    for r in range(3):
        xr = x[r::3]
        if lut is None:
            rows[r, :len(xr)] = xr
        else:
            np.take(lut, xr, out=rows[r, :len(xr)])
    return rows.cumsum(axis=1, out=rows)


def _range_sum(csum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of x over lo, lo+3, ..., hi (hi ≡ lo mod 3, hi >= lo) from `_class_cumsum(x)`."""
    r = lo % 3
    before = np.where(lo >= 3, csum[r, np.maximum(lo // 3 - 1, 0)], 0)
    return csum[r, hi // 3] - before


def _frame_counts(flags: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid codons, forward stops and reverse stops over positions lo, lo+3, ..., hi (elementwise)."""
    bits = max(1, int(len(flags) // 3 + 2).bit_length())
    if 3 * bits <= 62:  # one prefix-sum pass over three packed counters
        spread = np.zeros(8, np.int64)  # flag bits -> one counter field each
        for v in range(8):
            spread[v] = (v & VALID) + ((v & FSTOP) >> 1 << bits) + ((v & RSTOP) >> 2 << 2 * bits)
        total = _range_sum(_class_cumsum(flags, spread), lo, hi)
        mask = (1 << bits) - 1
        return total & mask, (total >> bits) & mask, total >> 2 * bits
    return tuple(_range_sum(_class_cumsum((flags & f) > 0), lo, hi) for f in (VALID, FSTOP, RSTOP))


def _kept_frames(buf: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Per chunk and frame: kept?, lowest/highest codon position read, valid codon count; plus codon classes."""
    n = len(buf)
    code = np.full(n + 2, 4, np.uint8)  # (N+2,) A0 C1 G2 T3 else 4, two invalid sentinels
    np.take(CODE_ANY_CASE, buf, out=code[:n])
    codon = code[:-2] * np.uint8(25)  # (N,) 5-ary codon of p..p+2, fits uint8 (< 125)
    codon += code[1:-1] * np.uint8(5)
    codon += code[2:]
    flags = FLAGS[codon]  # (N,)

    lc = (end - start)[:, None]  # (C,1)
    f = np.arange(3)[None, :]  # (1,3)
    m = np.maximum((lc - f) // 3, 0)  # (C,3) codon count per frame
    has = np.concatenate([m > 0, m > 0], axis=1)  # (C,6)
    # forward frame f reads start+f ... start+f+3(m-1); reverse frame f reads end-3-f down to end-3-f-3(m-1)
    f_lo = start[:, None] + f
    r_hi = end[:, None] - 3 - f
    lo = np.where(has, np.concatenate([f_lo, r_hi - 3 * (m - 1)], 1), 0)  # (C,6) lowest position read
    hi = np.where(has, np.concatenate([f_lo + 3 * (m - 1), r_hi], 1), 0)  # (C,6) highest position read
    n_valid, n_fstop, n_rstop = _frame_counts(flags, lo, hi)
    n_stop = np.concatenate([n_fstop[:, :3], n_rstop[:, 3:]], axis=1)
    keep = has & (n_valid > 0) & (n_stop == 0)
    return keep, lo, hi, n_valid, codon


def count_kept_frames(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
    """Number of frames `translate_chunks` would keep, without building any string."""
    return int(_kept_frames(buf, start, end)[0].sum())


def translate_chunks(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> Frames:
    """Translate chunks `buf[start:end]` in six frames and keep the stop-free, non-empty ones.

    Args:
        buf: (N,) uint8 ASCII bases of the concatenated sequences (any case).
        start, end: (C,) int64 chunk boundaries in `buf`, end - start >= 1.
    """
    keep, lo, hi, n_valid, codon = _kept_frames(buf, start, end)
    chunk, frame = np.nonzero(keep)  # row-major: chunk order, then F1..R3
    lo_k, hi_k = lo[chunk, frame], hi[chunk, frame]
    proteins = _proteins(codon, lo_k, hi_k, frame >= 3, n_valid[chunk, frame] < (hi_k - lo_k) // 3 + 1)
    nucleotides = _slices(UPPER[buf], start[chunk], end[chunk], frame, np.fromiter(map(len, proteins), np.int64, len(proteins)))
    return Frames(chunk, frame, proteins, nucleotides)


def _proteins(codon: np.ndarray, lo: np.ndarray, hi: np.ndarray, reverse: np.ndarray,
              has_dropped: np.ndarray) -> list[str]:
    """Protein of each kept frame as a slice of its residue class's translation (reverse: read backwards)."""
    fwd = [FAA[codon[r::3]].tobytes().decode("ascii") for r in range(3)]  # fwd[r][i] = aa of codon at 3i+r
    rev = [RAA[codon[r::3]][::-1].tobytes().decode("ascii") for r in range(3)]  # reversed reading order
    k = [len(s) for s in fwd]
    out = []
    for l, h, is_rev, dropped in zip(lo.tolist(), hi.tolist(), reverse.tolist(), has_dropped.tolist()):
        r = l % 3
        p = rev[r][k[r] - 1 - h // 3:k[r] - l // 3] if is_rev else fwd[r][l // 3:h // 3 + 1]
        out.append(p.replace(DROPPED, "") if dropped else p)
    return out


def _slices(up: np.ndarray, start: np.ndarray, end: np.ndarray, frame: np.ndarray, plen: np.ndarray) -> list[str]:
    """Paired nucleotide slice t[f : f+1+3*len(protein)] (clipped) on the frame's strand."""
    n = len(up)
    fnum = frame % 3
    stop = np.minimum(end - start, fnum + 1 + 3 * plen)
    reverse = frame >= 3
    fwd_text = up.tobytes().decode("ascii")
    rc_text = COMP[up][::-1].tobytes().decode("ascii")  # rc_text[n-1-g] = complement(up[g])
    a = np.where(reverse, n - end + fnum, start + fnum)
    b = np.where(reverse, n - end + stop, start + stop)
    return [(rc_text if r else fwd_text)[i:j] for r, i, j in zip(reverse.tolist(), a.tolist(), b.tolist())]
