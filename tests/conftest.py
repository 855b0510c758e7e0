"""Shared fixtures: paths to golden data and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "vanilla_prep"


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


PEAK_RSS_SCRIPT = """
import resource, sys
from virnucpro.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
sys.exit(code)
"""


def peak_rss_mib(*cli_args) -> int:
    """Run `virnucpro CLI_ARGS` in a fresh process; return its peak RSS in MiB (asserts success)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, *map(str, cli_args)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


def read_fasta(path: Path) -> list[tuple[str, str]]:
    """Tiny FASTA reader for comparing outputs (records as (header, joined sequence))."""
    recs: list[tuple[str, str]] = []
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            recs.append((line[1:], ""))
        elif recs:
            recs[-1] = (recs[-1][0], recs[-1][1] + line)
    return recs


@pytest.fixture
def run_cli(capsys):
    """Run `virnucpro ARGS` in-process; returns (exit code, stdout, stderr)."""
    from virnucpro.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny DNABERT-S / ESM-2 / classifier in the published formats (seed 0)."""
    from virnucpro.testing.factory import write_tiny_models

    return write_tiny_models(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture(scope="session")
def tiny_model_args(tiny_models) -> list:
    """The predict arguments that select the tiny models, offline."""
    return ["--dnabert", tiny_models.dnabert_dir, "--esm", tiny_models.esm_dir, "--classifier",
            tiny_models.classifier, "--offline"]


@pytest.fixture
def model_args(tiny_model_args):
    return list(tiny_model_args)


@pytest.fixture(scope="session")
def reads_3k(tmp_path_factory) -> Path:
    """3,000 synthetic 150-nt reads (the kill, pipe and worker tests' input)."""
    from virnucpro.synthetic import write_reads

    path = tmp_path_factory.mktemp("reads") / "r3k.fa"
    write_reads(path, 3000, seed=7)
    return path
