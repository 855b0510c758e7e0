"""`virnucpro report DIR`: (re)build report.html of a finished predict or merge run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.workdir import held_directory


@dataclass
class ReportConfig:
    """Parameters of `virnucpro report`."""

    run_dir: Path


def run(cfg: ReportConfig) -> Path:
    """Write RUN_DIR/report.html from the run's tables and run_info.json (holding the directory's lock).

    Raises:
        InputError: no such directory, or no finished run in it.
    """
    root = Path(cfg.run_dir)
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a directory: give the -o directory of a finished predict run")
    from virnucpro.pipeline.ownership import owner_of
    from virnucpro.report.page import write_report

    if owner_of(root) not in (None, "predict"):
        raise InputError(f"{str(root)!r} holds a `virnucpro {owner_of(root)}` run, which has no report.html of this "
                         "kind: give the -o directory of a finished predict or merge run")

    with held_directory(OutputPaths(root)):
        return write_report(root)
