"""The default CPU thread count is a pure function of the job's cores and limit variables; busy cores are warned of."""

from __future__ import annotations

import pytest

from virnucpro.cpus import CpuState, busy_cores, busy_warning, default_threads, effective_threads, faster_threads


@pytest.mark.parametrize("affinity,env,want", [
    (8, {}, (8, "the cores this job may use")),
    (8, {"OMP_NUM_THREADS": "2"}, (2, "OMP_NUM_THREADS")),
    (8, {"SLURM_CPUS_PER_TASK": "4"}, (4, "SLURM_CPUS_PER_TASK")),
    (8, {"OMP_NUM_THREADS": "6", "SLURM_CPUS_PER_TASK": "3"}, (3, "SLURM_CPUS_PER_TASK")),
    (2, {"OMP_NUM_THREADS": "16"}, (2, "the cores this job may use")),  # never more than the affinity
    (8, {"OMP_NUM_THREADS": "4,2"}, (8, "the cores this job may use")),  # nested lists and junk are not ours
    (8, {"OMP_NUM_THREADS": "0"}, (8, "the cores this job may use")),
])
def test_default_threads_from_affinity_and_variables(affinity, env, want):
    assert default_threads(CpuState(affinity, 64, 0.0, env)) == want


def test_default_ignores_the_load_so_the_same_command_gives_the_same_bytes():
    idle, busy = CpuState(2, 2, 0.0), CpuState(2, 2, 7.0)
    assert default_threads(idle) == default_threads(busy)
    assert effective_threads(0, idle) == effective_threads(0, busy) == 2


@pytest.mark.parametrize("affinity,total,others,busy", [
    (2, 2, 0, 0), (2, 2, 1, 1), (2, 2, 5, 2),  # a 2-core shared box
    (8, 64, 40, 0), (8, 64, 57, 1), (8, 64, 70, 8),  # a job's 8 cores on a big node: others run elsewhere first
    (4, 4, 0.4, 0), (4, 4, 0.6, 1),
])
def test_busy_cores_count_others_beyond_the_cores_outside_the_job(affinity, total, others, busy):
    assert busy_cores(CpuState(affinity, total, others)) == busy


def test_one_busy_core_of_two_warns_with_the_faster_count():
    state = CpuState(2, 2, 1.0)
    assert faster_threads(2, state) == 1 and faster_threads(1, state) is None
    text = busy_warning(2, state)
    assert "1 of this job's 2 cores are busy" in text and "--threads 1 is faster" in text
    assert busy_warning(2, CpuState(2, 2, 0.0)) is None
    assert faster_threads(4, CpuState(4, 4, 9.0)) == 1  # every core busy: still one thread, never zero
    text = busy_warning(2, CpuState(2, 2, 5.0))
    assert "all 2 of this job's cores are busy" in text and "--threads 1 competes least" in text, text


def test_more_threads_than_cores_are_bounded_with_a_warning(caplog):
    assert effective_threads(16, CpuState(4, 4, 0.0)) == 4
    assert "more than the 4 cores" in caplog.text
    assert effective_threads(3, CpuState(4, 4, 0.0)) == 3


def test_a_cpu_run_on_busy_cores_names_the_faster_threads(run_cli, model_args, monkeypatch, tmp_path):
    from conftest import ROOT

    monkeypatch.setattr("virnucpro.cpus.cpu_state", lambda: CpuState(2, 2, 1.0))  # one of two cores busy
    code, _, err = run_cli("predict", ROOT / "examples" / "example.fa", "-o", tmp_path / "o", "--device", "cpu",
                           *model_args)
    assert code == 0 and "--threads 1 is faster on a shared machine" in err
