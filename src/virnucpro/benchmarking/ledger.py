"""The performance ledger: one JSON line per measured commit (`virnucpro benchmark --ledger`)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

DEFAULT = Path("bench/results/ledger.jsonl")


def ledger_line(result: dict, gpu_tests: str | None = None) -> dict:
    """The ledger's fields from a benchmark result (and pytest's last summary line of `pytest -m gpu`, if given)."""
    enc = result.get("encoders", {})
    e2e = result.get("e2e_W150", {})
    start = result.get("startup", {})

    def rate(workload: str, name: str):
        return enc.get(workload, {}).get(name, {}).get("tokens_per_s")

    return {"commit": result.get("commit"), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "device": result.get("device"), "torch": result.get("torch"),
            "esm2_tokens_per_s": {"W150": rate("W150", "esm"), "W500": rate("W500", "esm")},
            "dnabert_s_tokens_per_s": {"W150": rate("W150", "dnabert_flex"), "W500": rate("W500", "dnabert_flex")},
            "ratio_vs_transformers": result.get("baseline_W500", {}).get("ratio"),
            "e2e_fraction_of_esm_only": e2e.get("fraction_of_esm_only_rate"),
            "e2e_frames_per_s": e2e.get("frames_per_s"),
            "minutes_per_million_reads": e2e.get("minutes_per_million_reads"),
            "gpu_idle_s": e2e.get("gpu", {}).get("idle_s"),
            "startup_cold_s": start.get("cold_s"), "startup_warm_s": start.get("warm_s"),
            "gpu_tests": parse_pytest_summary(gpu_tests) if gpu_tests else None,
            "workloads": {k: result.get("config", {}).get(k) for k in ("encoder_frames", "baseline_frames", "e2e_reads")}}


def parse_pytest_summary(text: str) -> dict:
    """{'passed': n, 'failed': n, ...} from pytest's summary line ('15 passed, 2 failed in 80.1s')."""
    lines = [ln for ln in text.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    if not lines:
        return {}
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)", lines[-1])}


def append(path: Path, line: dict) -> None:
    """Append one line (a whole line in one write: concurrent appenders never interleave within it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")


def latest(path: Path = DEFAULT) -> dict | None:
    """The ledger's last line, or None."""
    if not path.exists():
        return None
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None
