"""Batch jobs (stderr not a terminal) get progress lines in the log; the log file holds what stderr showed."""

from __future__ import annotations

import logging


def test_progress_lines_every_interval_off_terminal(caplog, monkeypatch):
    from virnucpro.progress import LogProgress

    monkeypatch.setattr(logging.getLogger("virnucpro"), "propagate", True)  # an earlier CLI call turns it off
    now = [0.0]
    caplog.set_level(logging.INFO, logger="virnucpro")
    p = LogProgress("embedding frames", "frames", total=1000, interval=10, clock=lambda: now[0])
    p.skip(100)  # resumed work: counted as done, not in the rate
    p.begin()
    for _ in range(9):
        now[0] += 5
        p.update(50)
    lines = [r.getMessage() for r in caplog.records if "embedding frames" in r.getMessage()]
    assert len(lines) == 4  # one per 10 s of the 45 s
    assert "400 frames of 1,000 (40.0%), 10 frames/s, eta 0:01:00" in lines[2]


def test_progress_interval_is_settable(monkeypatch):
    from virnucpro.progress import log_interval

    monkeypatch.setenv("VIRNUCPRO_PROGRESS_SECONDS", "2.5")
    assert log_interval() == 2.5
    monkeypatch.setenv("VIRNUCPRO_PROGRESS_SECONDS", "soon")
    assert log_interval() == 60.0


def test_predict_log_file_holds_the_input_summary_and_progress(tmp_path, run_cli, model_args, golden_dir,
                                                               monkeypatch):
    monkeypatch.setenv("VIRNUCPRO_PROGRESS_SECONDS", "0")
    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / "out", *model_args, "--device", "cpu")
    assert code == 0, err
    log = (tmp_path / "out" / "virnucpro.log").read_text()
    assert "input: " in log and " records " in log  # logged before the file opened, replayed into it
    assert "embedding frames: " in log and " frames of " in log
    assert log.count("===== run start") == 1
    for line in err.splitlines():  # everything on stderr is in the file too
        if " INFO " in line or " WARNING " in line:
            assert line.split(" ", 2)[2] in log, line
