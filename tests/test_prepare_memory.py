"""`prepare` streams: peak RSS does not grow with the input (10^5 vs 10^6 reads)."""

from __future__ import annotations

from conftest import peak_rss_mib
from virnucpro.testing.synthetic import write_reads


def test_peak_memory_flat(tmp_path):
    small, large = tmp_path / "small.fa", tmp_path / "large.fa"
    write_reads(small, 100_000, seed=1)
    write_reads(large, 1_000_000, seed=2)
    mb_small = peak_rss_mib("prepare", small, "-o", tmp_path / "o1", "-q")
    mb_large = peak_rss_mib("prepare", large, "-o", tmp_path / "o2", "-q")
    assert mb_large - mb_small < 200, (mb_small, mb_large)
