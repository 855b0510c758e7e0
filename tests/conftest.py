"""Shared fixtures: paths to golden data and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "vanilla_prep"


def pytest_report_header(config) -> str:
    """Which virnucpro the suite tests: after a plain `pip install .` it is an installed copy, not this checkout."""
    import virnucpro

    where = Path(virnucpro.__file__).resolve().parent
    if where.is_relative_to(ROOT / "src"):
        return f"virnucpro under test: {where} (this checkout)"
    return (f"virnucpro under test: {where}, an installed copy, not this checkout's src/ (`pip install -e \".[test]\"` "
            "makes the suite test your edits)")


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
    from virnucpro.testing.synthetic import write_reads

    path = tmp_path_factory.mktemp("reads") / "r3k.fa"
    write_reads(path, 3000, seed=7)
    return path


OUTPUTS = ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv", "regions.tsv")


def assert_same_outputs(a: Path, b: Path) -> None:
    """The result tables (the three, and regions.tsv) of two output directories are byte-identical."""
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def one_error_line(err: str) -> str:
    """The single error line of a failed command (no traceback, under 300 characters)."""
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert len(lines[0]) < 300, lines[0]
    return lines[0]


def wait_for(pred, timeout: float = 120) -> None:
    """Poll `pred` until it holds (fails the test after `timeout` seconds)."""
    import time

    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _virnucpro_log_reaches_caplog(monkeypatch):
    """An in-process CLI call turns the virnucpro logger's propagation off (its own handlers print); a later test
    that reads `caplog` would then see nothing. Each test starts with it on (a CLI call turns it off again)."""
    import logging

    monkeypatch.setattr(logging.getLogger("virnucpro"), "propagate", True)
