"""`virnucpro report DIR`: (re)build report.html of a finished predict or merge run."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.workdir import held_directory
from virnucpro import argtypes as A
from virnucpro.commands import flags


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
    from virnucpro.report.page import finished_run_info, write_report

    if owner_of(root) not in (None, "predict"):
        raise InputError(f"{str(root)!r} holds a `virnucpro {owner_of(root)}` run, which has no report.html of this "
                         "kind: give the -o directory of a finished predict or merge run")
    finished_run_info(root)  # before the lock and the log: a directory without a finished run is left as it was

    from virnucpro.logs import run_log

    with held_directory(OutputPaths(root)), run_log(OutputPaths(root).log):
        return write_report(root)


def add_parser(sub) -> None:
    p = flags.subparser(sub, "report", "(re)build report.html of a finished run",
                      "Write DIR/report.html (self-contained: opens offline) from the run's tables and "
                      "run_info.json. predict and merge write it themselves; this rebuilds it.")
    p.add_argument("run_dir", type=A.directory, metavar="DIR", help="-o directory of a finished predict or merge run")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    run(ReportConfig(run_dir=args.run_dir))
    return 0
