"""`virnucpro workflow DIR`: write the Snakemake workflow (Snakefile, config.yaml, SLURM profile, README)."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.errors import ResumeError
from virnucpro import argtypes as A
from virnucpro.commands import flags

log = logging.getLogger("virnucpro")
FILES = ("Snakefile", "config.yaml", "README.md", "profiles/slurm/config.yaml")


@dataclass
class WorkflowConfig:
    """Parameters of `virnucpro workflow`."""

    directory: Path
    force: bool = False


def run(cfg: WorkflowConfig) -> list[Path]:
    """Copy the workflow files into cfg.directory (existing ones only with --force); returns their paths."""
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.workdir import check_output_dir, held_directory

    check_output_dir(Path(cfg.directory))
    targets = [cfg.directory / name for name in FILES]
    with held_directory(OutputPaths(Path(cfg.directory)), "workflow") as session:
        session.drop_lock_file = True
        _write_files(targets, cfg.force)
        session.claimed = True
    log.info("wrote the workflow into %s: edit config.yaml and samples.tsv, then run `snakemake --cores 8` here, or "
             "`snakemake --workflow-profile profiles/slurm` on a SLURM login node", cfg.directory)
    return targets


def _write_files(targets: list[Path], force: bool) -> None:
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise ResumeError(f"{existing[0]} exists: choose an empty directory, or pass --force to overwrite the "
                          "workflow files (your samples and results are never touched)")
    source = resources.files("virnucpro") / "data" / "workflow"
    for name, target in zip(FILES, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, source.joinpath(name).read_text())


def add_parser(sub) -> None:
    p = flags.subparser(sub, "workflow", "write a Snakemake workflow (many samples, shards, SLURM profile)")
    p.add_argument("directory", type=A.directory, help="where to write Snakefile, config.yaml, profiles/slurm/ and README.md")
    p.add_argument("--force", action="store_true", help="overwrite existing workflow files")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    run(WorkflowConfig(directory=args.directory, force=args.force))
    return 0
