"""The progress bar moves per batch and shows a rate and an ETA from the first batch on."""

from __future__ import annotations

import contextlib
import time

from conftest import GOLDEN


def test_eta_from_the_first_update_and_skipped_work_not_counted():
    from rich.progress import Progress

    from virnucpro.progress import _columns, _RichProgress

    rate_col, eta_col = _columns("frames")
    with Progress(disable=True) as p:
        task_id = p.add_task("x", total=1000)
        bar = _RichProgress(p, task_id)
        task = p.tasks[0]
        assert "-:--" in eta_col.render(task).plain
        bar.skip(500)  # a resume found half the work done
        assert "-:--" in eta_col.render(task).plain
        time.sleep(0.2)
        bar.update(10)  # one batch: <= 50 frames/s, 490 to go
        eta = eta_col.render(task).plain
        assert eta.startswith("eta 0:00:") and eta != "eta 0:00:00", eta
        assert rate_col.render(task).plain.endswith("frames/s")


def test_predict_advances_the_bar_per_batch(tmp_path, run_cli, model_args, monkeypatch):
    updates: list[float] = []

    class Recorder:
        def update(self, advance: float = 0) -> None:
            updates.append(advance)

        def skip(self, advance: float) -> None:
            updates.append(-advance)

        def begin(self) -> None:
            pass

    @contextlib.contextmanager
    def fake_bar(*_args, **_kwargs):
        yield Recorder()

    monkeypatch.setattr("virnucpro.pipeline.run.progress_bar", fake_bar)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--batch-tokens", 2048,
                           "--unit-frames", 4096, *model_args)
    assert code == 0, err
    assert len(updates) > 5 and all(u > 0 for u in updates)  # many batches inside one unit
    assert sum(updates) == 586
