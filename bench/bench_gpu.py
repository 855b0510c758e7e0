"""GPU benchmark (same as `virnucpro benchmark`): python bench/bench_gpu.py [--e2e-reads N] [--out PATH]."""

import sys

from virnucpro.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
