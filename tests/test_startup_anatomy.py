"""The start-up anatomy of `virnucpro benchmark` (tiny models on the CPU here; full-size ones on a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from virnucpro.benchmarking import startup


@pytest.mark.slow
def test_cold_and_warm_start_up_by_phase(tmp_path: Path, tiny_models) -> None:
    models = {"esm": tiny_models.esm_dir, "dnabert": tiny_models.dnabert_dir, "classifier": tiny_models.classifier}
    result = startup.run_startup("cpu", reads=20, work=tmp_path, compile="off", models=models)
    for run in ("cold", "warm"):
        seconds = result[run]["seconds"]
        assert set(seconds) == set(startup.PHASES)
        assert sum(seconds.values()) == pytest.approx(result[run]["wall_seconds"], abs=0.1)
        assert all(v >= -0.05 for v in seconds.values()), seconds
    assert result["warm_outputs_identical_to_cold"]
    assert list((tmp_path / "home" / "verified").iterdir())  # the cold run left its records for the warm one
    assert "imports" in startup.table(result) and "warm" in startup.table(result)


def test_phase_clock_charges_nested_time_to_the_inner_phase() -> None:
    import time

    clock = startup.PhaseClock()
    inner = clock.wrap(lambda: time.sleep(0.05), "checks")
    outer = clock.wrap(lambda: (time.sleep(0.05), inner()), "build_models")
    outer()
    assert 0.04 < clock.seconds["checks"] < 0.09 and 0.04 < clock.seconds["build_models"] < 0.09
