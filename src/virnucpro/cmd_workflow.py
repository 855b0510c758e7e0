"""`virnucpro workflow DIR`: write the Snakemake workflow (Snakefile, config.yaml, SLURM profile, README)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.errors import ResumeError

log = logging.getLogger("virnucpro")
FILES = ("Snakefile", "config.yaml", "README.md", "profiles/slurm/config.yaml")


@dataclass
class WorkflowConfig:
    """Parameters of `virnucpro workflow`."""

    directory: Path
    force: bool = False


def run(cfg: WorkflowConfig) -> list[Path]:
    """Copy the workflow files into cfg.directory (existing ones only with --force); returns their paths."""
    targets = [cfg.directory / name for name in FILES]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not cfg.force:
        raise ResumeError(f"{existing[0]} exists: choose an empty directory, or pass --force to overwrite the "
                          "workflow files (your samples and results are never touched)")
    source = resources.files("virnucpro") / "data" / "workflow"
    for name, target in zip(FILES, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, source.joinpath(name).read_text())
    log.info("wrote the workflow into %s: edit config.yaml and samples.tsv, then run `snakemake --cores 8` here, or "
             "`snakemake --workflow-profile profiles/slurm` on a SLURM login node", cfg.directory)
    return targets
