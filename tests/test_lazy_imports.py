"""`virnucpro --help`, argument parsing and usage errors never import torch (seconds on every call)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from virnucpro.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformers", "tokenizers", "safetensors") if m in sys.modules)
print("HEAVY", heavy)
"""


@pytest.mark.parametrize("argv", [["--help"], ["predict", "--help"], ["predict", "--chunk-size", "x", "in.fa"],
                                  ["benchmark", "--help"]])
def test_help_and_usage_errors_import_no_heavy_library(argv: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
