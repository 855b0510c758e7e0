"""Synthetic workloads for benchmarks and tests: Illumina-like reads and gene-rich contigs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_ACGT = np.frombuffer(b"ACGT", dtype=np.uint8)
_SENSE = np.array([a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"
                   if a + b + c not in ("TAA", "TAG", "TGA")])


def random_genome(rng: np.random.Generator, length: int, gene_fraction: float = 0.7) -> np.ndarray:
    """(length,) uint8 ASCII: alternating stop-free 'genes' (300-1500 nt) and random intergenic DNA."""
    parts, total = [], 0
    while total < length:
        if rng.random() < gene_fraction:
            codons = _SENSE[rng.integers(0, len(_SENSE), int(rng.integers(100, 500)))]
            seg = np.frombuffer("".join(codons).encode(), dtype=np.uint8)
            if rng.random() < 0.5:  # genes on both strands
                seg = np.frombuffer(seg[::-1].tobytes().translate(bytes.maketrans(b"ACGT", b"TGCA")), np.uint8)
        else:
            seg = _ACGT[rng.integers(0, 4, int(rng.integers(50, 400)))]
        parts.append(seg)
        total += len(seg)
    return np.concatenate(parts)[:length]


def write_reads(path: Path, n: int, length: int = 150, seed: int = 0, genome_size: int = 2_000_000) -> int:
    """Write `n` reads sampled from a synthetic genome (FASTA); returns total bases."""
    rng = np.random.default_rng(seed)
    genome = random_genome(rng, genome_size)
    with open(path, "wb") as fh:
        for lo in range(0, n, 100_000):
            m = min(100_000, n - lo)
            starts = rng.integers(0, genome_size - length, m)
            reads = genome[starts[:, None] + np.arange(length)]  # (m, length)
            fh.write(b"".join(b">read_%d\n%s\n" % (lo + i, r.tobytes()) for i, r in enumerate(reads)))
    return n * length


def write_contigs(path: Path, n: int, length: int = 500, seed: int = 1) -> int:
    """Write `n` gene-rich contigs of `length` bp (FASTA, 60-column lines); returns total bases."""
    rng = np.random.default_rng(seed)
    genome = random_genome(rng, n * length + 1)
    with open(path, "wb") as fh:
        for i in range(n):
            s = genome[i * length:(i + 1) * length].tobytes()
            fh.write(b">contig_%d\n%s\n" % (i, b"\n".join(s[j:j + 60] for j in range(0, len(s), 60))))
    return n * length
