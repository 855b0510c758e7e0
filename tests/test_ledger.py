"""The performance ledger: lines from benchmark results, and the README quotes its latest line."""

from __future__ import annotations

import json
from pathlib import Path

from virnucpro.benchmarking.ledger import ledger_line, parse_pytest_summary

ROOT = Path(__file__).resolve().parents[1]


def test_a_ledger_line_from_a_benchmark_result():
    result = {"commit": "abc1234", "device": "NVIDIA H200", "torch": "2.11",
              "encoders": {"W150": {"esm": {"tokens_per_s": 89000}, "dnabert_flex": {"tokens_per_s": 1_700_000}}},
              "baseline_W500": {"ratio": 1.44}, "e2e_W150": {"fraction_of_esm_only_rate": 0.93, "frames_per_s": 1600,
                                                             "minutes_per_million_reads": 14.1, "gpu": {"idle_s": 7.5}},
              "startup": {"cold": {"wall_seconds": 22.3}, "warm": {"wall_seconds": 7.8}},
              "config": {"encoder_frames": "20000", "baseline_frames": "8000", "e2e_reads": "200000"}}
    line = ledger_line(result, "....\n20 passed, 3 failed, 1087 deselected in 81.16s\n")
    assert line["esm2_tokens_per_s"] == {"W150": 89000, "W500": None}
    assert (line["startup_cold_s"], line["startup_warm_s"], line["gpu_idle_s"]) == (22.3, 7.8, 7.5)
    assert line["gpu_tests"] == {"passed": 20, "failed": 3, "deselected": 1087}
    assert parse_pytest_summary("no summary") == {}


def test_the_readme_quotes_the_ledgers_latest_line():
    lines = (ROOT / "bench" / "results" / "ledger.jsonl").read_text().splitlines()
    latest = json.loads(lines[-1])
    readme = (ROOT / "README.md").read_text()
    assert f"`{latest['commit']}`" in readme, "README's Performance section must name the ledger's latest commit"
    assert f"{latest['minutes_per_million_reads']} min per 1M" in readme
