"""`prepare` streams: peak RSS does not grow with the input (10^5 vs 10^6 reads)."""

from __future__ import annotations

import subprocess
import sys


from virnucpro.synthetic import write_reads

PEAK_RSS = """
import resource, sys
from virnucpro.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
sys.exit(code)
"""


def _peak_mb(src, out) -> int:
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, "prepare", str(src), "-o", str(out), "-q"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


def test_peak_memory_flat(tmp_path):
    small, large = tmp_path / "small.fa", tmp_path / "large.fa"
    write_reads(small, 100_000, seed=1)
    write_reads(large, 1_000_000, seed=2)
    mb_small = _peak_mb(small, tmp_path / "o1")
    mb_large = _peak_mb(large, tmp_path / "o2")
    assert mb_large - mb_small < 200, (mb_small, mb_large)
