"""`virnucpro workflow DIR`: write the Snakemake workflow (Snakefile, config.yaml, SLURM profile, README)."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.errors import ResumeError
from virnucpro.nofollow import make_dirs
from virnucpro import argtypes as A
from virnucpro.commands import flags

log = logging.getLogger("virnucpro")
FILES = ("Snakefile", "config.yaml", "README.md", "profiles/slurm/config.yaml")
SAMPLES = "samples.tsv"  # a template, written only where none exists: the user's list is never overwritten


@dataclass
class WorkflowConfig:
    """Parameters of `virnucpro workflow`."""

    directory: Path
    force: bool = False


def run(cfg: WorkflowConfig) -> list[Path]:
    """Copy the workflow files into cfg.directory (existing ones only with --force), and the samples.tsv template
    where there is none; returns the paths of the workflow files."""
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.workdir import check_output_dir, held_directory

    check_output_dir(Path(cfg.directory))
    targets = [cfg.directory / name for name in FILES]
    with held_directory(OutputPaths(Path(cfg.directory)), "workflow") as session:
        session.drop_lock_file = True
        _write_files(targets, cfg.force)
        template = _write_samples_template(cfg.directory / SAMPLES)
        session.claimed = True
    what = "list your samples in samples.tsv (a template)" if template else "check samples.tsv (kept as it was)"
    log.info("wrote the workflow into %s: %s and edit config.yaml, then run `snakemake --cores 8` there, or "
             "`snakemake --workflow-profile profiles/slurm` on a SLURM login node", cfg.directory, what)
    return targets


def _write_samples_template(target: Path) -> bool:
    """Write the samples.tsv template unless the file exists; True when written."""
    if target.exists():
        return False
    write_atomic(target, (resources.files("virnucpro") / "data" / "workflow" / SAMPLES).read_text())
    return True


def _write_files(targets: list[Path], force: bool) -> None:
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise ResumeError(f"{existing[0]} exists: choose an empty directory, or pass --force to overwrite the "
                          "workflow files (your samples and results are never touched)")
    source = resources.files("virnucpro") / "data" / "workflow"
    for name, target in zip(FILES, targets):
        make_dirs(target.parent, targets[0].parent)  # profiles/slurm: never through a planted link
        write_atomic(target, source.joinpath(name).read_text())


def add_parser(sub) -> None:
    p = sub.add_parser("workflow", help="write a Snakemake workflow (many samples, shards, SLURM profile)",
                       formatter_class=flags.DefaultsOnceFormatter,
                       description="Write a ready Snakemake workflow into DIRECTORY: Snakefile, config.yaml (every "
                                   "key explained), a samples.tsv template, profiles/slurm/ and a README. List your "
                                   "samples in samples.tsv, then run `snakemake --cores 8` there (or `snakemake "
                                   "--workflow-profile profiles/slurm` on a SLURM login node). Snakemake comes with "
                                   "`pip install \".[workflow]\"` from the virnucpro checkout.")
    p.add_argument("directory", type=A.directory, help="where to write Snakefile, config.yaml, samples.tsv, profiles/slurm/ "
                   "and README.md")
    p.add_argument("--force", action="store_true", help="overwrite the workflow files (Snakefile, config.yaml, "
                   "profiles/slurm/config.yaml, README.md); samples.tsv and results are never touched")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    run(WorkflowConfig(directory=args.directory, force=args.force))
    return 0
