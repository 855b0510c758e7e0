"""Several workers (`--device cpu,cpu,...`): same bytes as one worker, dynamic balance, failures stop cleanly.

Real processes throughout: workers are spawned, killed, stopped and resumed as on a GPU node.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import assert_same_outputs as _same_outputs
from conftest import one_error_line as _error_line
from conftest import wait_for as _wait_for

UNIT_FRAMES = "128"


def _cmd(src, out, model_args, devices: str, *extra) -> list[str]:
    # one torch thread per worker: CPU sums then run in the same order whichever worker takes a unit
    n = devices.count(",") + 1
    return [sys.executable, "-m", "virnucpro", "predict", str(src), "-o", str(out), "--unit-frames", UNIT_FRAMES,
            "--device", devices, "--threads", str(n), *map(str, model_args), *map(str, extra)]




class Run:
    """A predict process whose stderr is collected as it arrives (worker pids are logged there)."""

    def __init__(self, cmd: list[str], **kwargs) -> None:
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, **kwargs)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def worker_pids(self) -> dict[int, int]:
        found = (re.search(r"worker (\d+) on \S+ started \(pid (\d+)\)", ln) for ln in list(self.lines))
        return {int(m.group(1)): int(m.group(2)) for m in found if m}

    def ready(self, n: int) -> bool:
        return sum("models loaded" in ln for ln in list(self.lines)) >= n

    def wait(self, timeout: float = 180) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code, "".join(self.lines)




def _units(out: Path) -> int:
    return len(list((out / "work_units").glob("unit_*.tsv")))




def _no_orphans(pids) -> None:
    time.sleep(0.5)
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as fh:
            assert fh.read().split()[2] == "Z", f"worker {pid} still running"


@pytest.fixture(scope="module")
def reads(reads_3k):
    return reads_3k


@pytest.fixture(scope="module")
def one_worker(reads, tiny_model_args, tmp_path_factory):
    """The one-device run every multi-worker run must reproduce byte for byte."""
    from virnucpro.cli import main

    out = tmp_path_factory.mktemp("one") / "out"
    assert main([str(a) for a in _cmd(reads, out, tiny_model_args, "cpu", "-q")[3:]]) == 0
    return out


def test_three_workers_same_bytes_as_one(reads, one_worker, tmp_path, model_args):
    out = tmp_path / "out"
    run = Run(_cmd(reads, out, model_args, "cpu,cpu,cpu"))
    code, err = run.wait()
    assert code == 0, err
    _same_outputs(one_worker, out)
    info = json.loads((out / "run_info.json").read_text())
    assert [d["device"] for d in info["devices"]] == ["cpu"] * 3
    assert sum(d["frames"] for d in info["devices"]) == info["counts"]["frames"]
    assert all(d["units"] > 0 for d in info["devices"])
    assert len(run.worker_pids()) == 3
    _no_orphans(run.worker_pids().values())


def test_killed_worker_stops_the_run_then_resume(reads, one_worker, tmp_path, model_args):
    out = tmp_path / "out"
    run = Run(_cmd(reads, out, model_args, "cpu,cpu"))
    _wait_for(lambda: _units(out) >= 2 or run.proc.poll() is not None)
    victim = run.worker_pids()[1]
    os.kill(victim, signal.SIGKILL)
    code, err = run.wait()
    if code != 0:  # the usual case; a kill right at the end may still let the run finish correctly
        line = _error_line(err)
        assert code == 5 and "worker 1 on cpu was killed by SIGKILL" in line and "rerun the same command" in line
        _no_orphans(run.worker_pids().values())
        code, err = Run(_cmd(reads, out, model_args, "cpu,cpu")).wait()
        assert code == 0, err
    _same_outputs(one_worker, out)


def test_slowed_worker_takes_fewer_units(reads, one_worker, tmp_path, model_args):
    out = tmp_path / "out"
    run = Run(_cmd(reads, out, model_args, "cpu,cpu"))
    _wait_for(lambda: run.ready(2) or run.proc.poll() is not None)
    slow = run.worker_pids()[0]
    os.kill(slow, signal.SIGSTOP)  # a busier GPU: this worker makes no progress for a while
    time.sleep(3)
    os.kill(slow, signal.SIGCONT)
    code, err = run.wait()
    assert code == 0, err
    devices = json.loads((out / "run_info.json").read_text())["devices"]
    assert devices[0]["units"] < devices[1]["units"], devices
    _same_outputs(one_worker, out)


def test_hung_worker_is_detected(reads, one_worker, tmp_path, model_args):
    out = tmp_path / "out"
    run = Run(_cmd(reads, out, model_args, "cpu,cpu", "--worker-timeout", "3"))
    _wait_for(lambda: _units(out) >= 1 or run.proc.poll() is not None)
    hung = run.worker_pids()[0]
    os.kill(hung, signal.SIGSTOP)
    t0 = time.time()
    code, err = run.wait()
    assert code == 5 and "worker 0 on cpu stopped answering for 3 s" in _error_line(err)
    assert time.time() - t0 < 30
    _no_orphans(run.worker_pids().values())
    code, err = Run(_cmd(reads, out, model_args, "cpu,cpu")).wait()
    assert code == 0, err
    _same_outputs(one_worker, out)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_process_group_killed_at_random_then_resume(seed, reads, one_worker, tmp_path, model_args):
    import random

    out = tmp_path / "out"
    run = Run(_cmd(reads, out, model_args, "cpu,cpu"), start_new_session=True)
    _wait_for(lambda: (out / "run_info.json").exists() or run.proc.poll() is not None)
    time.sleep(random.Random(seed).uniform(0.5, 5))
    os.killpg(run.proc.pid, signal.SIGKILL)  # the whole job: coordinator and workers
    run.wait()
    code, err = Run(_cmd(reads, out, model_args, "cpu,cpu")).wait()
    assert code == 0, err
    _same_outputs(one_worker, out)


def test_sigterm_to_the_coordinator_stops_every_worker(reads, one_worker, tmp_path, model_args):
    out = tmp_path / "out"
    run = Run(_cmd(reads, out, model_args, "cpu,cpu"))
    _wait_for(lambda: _units(out) >= 2 or run.proc.poll() is not None)
    run.proc.send_signal(signal.SIGTERM)
    code, err = run.wait()
    assert code == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, err
    _no_orphans(run.worker_pids().values())
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    code, err = Run(_cmd(reads, out, model_args, "cpu,cpu")).wait()
    assert code == 0, err
    _same_outputs(one_worker, out)


@pytest.mark.parametrize("devices,needle", [("cpu,foo", "'foo' is not a device"),
                                            ("cpu,cuda:0", "mixes CPU and GPU"), ("cuda:1,", "'' is not a device")])
def test_bad_device_lists_rejected_while_parsing(devices, needle, tmp_path, run_cli, model_args):
    with pytest.raises(SystemExit) as exc:
        run_cli("predict", "x.fa", "-o", tmp_path / "o", "--device", devices, *model_args)
    assert exc.value.code == 2 and not (tmp_path / "o").exists()


def test_gpu_asked_for_without_one(tmp_path, run_cli, model_args):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from conftest import GOLDEN

    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--device", "cuda:0,cuda:1",
                           *model_args)
    assert code == 2 and "torch sees none" in _error_line(err) and not (tmp_path / "o").exists()


def test_scaling_benchmark_on_cpu_workers(tmp_path, monkeypatch):
    """The --devices benchmark's bookkeeping (the models are stand-ins: random full-size ones need a GPU)."""
    from virnucpro.benchmarking import scaling as benchmark_scaling

    assert benchmark_scaling.device_counts(1) == [1] and benchmark_scaling.device_counts(8) == [1, 2, 4, 8]
    assert benchmark_scaling.device_counts(3) == [1, 2, 3]
