"""No value from a run becomes markup in any page: IDs, paths, parameters and titles are HTML-escaped."""

from __future__ import annotations

EVIL = "<script>alert(1)</script>"


def test_training_report_escapes_every_value():
    from virnucpro.report.training_page import render

    epoch = {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "accuracy": 0.7, "f1": 0.7, "auroc": 0.8}
    frames = {"records": 1, "chunks": 1, "ambiguous_chunks_dropped": 0, "frames": 6,
              "selection": {f"/x/{EVIL}.gbk": EVIL}}
    m = {"epochs": [epoch], "final": {"accuracy": 0.7}, "frames": {"viral": frames, "other": frames},
         "stopped_early": False, "recipe": {EVIL: EVIL}, "validation_frames": 1, "chunk_size": EVIL,
         "seed": EVIL, "best_epoch": 1}
    html = render(m)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_run_report_escapes_input_names_and_parameters():
    from virnucpro.report import aggregate
    from virnucpro.report.page import render

    info = {"status": "complete", "input": {"path": f"/d/{EVIL}.fa", "bytes": 1, "sha256": EVIL},
            "parameters": {EVIL: EVIL}, "models": {EVIL: {"ref": EVIL, "sha256": {EVIL: EVIL}}},
            "versions": {"virnucpro": EVIL}, "counts": {}, "seconds": {}, "devices": [{EVIL: EVIL}]}
    html = render(info, aggregate.RunFigures())
    assert "<script>alert" not in html
    assert 'href="' not in html.replace('href="#', "")  # no value becomes a link target
