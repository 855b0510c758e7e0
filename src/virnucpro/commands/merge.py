"""`virnucpro merge SHARD_DIR... -o OUT`: the shards of one run -> the tables of that run, byte for byte."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.logs import command_line, run_log
from virnucpro.nofollow import create_new, make_dirs
from virnucpro.pipeline.assemble import finish
from virnucpro.pipeline.claim import already_complete, claim
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.shard_list import shard_directories
from virnucpro.pipeline.shards import Shard, read_shards
from virnucpro.pipeline.ownership import check_inputs_survive
from virnucpro.pipeline.run_info import now_iso
from virnucpro.pipeline.workdir import check_output_dir, held_directory
from virnucpro.pipeline.workunits import UnitPlan, unit_path
from virnucpro.signals import stop_on_signals
from virnucpro.stopwatch import Clock
from virnucpro import argtypes as A
from virnucpro.commands import flags

log = logging.getLogger("virnucpro")


@dataclass
class MergeConfig:
    """Parameters of `virnucpro merge`."""

    shard_dirs: list[Path]
    output_dir: Path
    force: bool = False
    min_region_length: int | None = None  # None: the shards' value; another value is refused
    shard_list: Path | None = None  # a file naming more shard directories, one per line ('-': stdin)
    sequences: bool = True  # False (--no-sequences): the tables only, even if the shards stored sequences


def run(cfg: MergeConfig) -> dict:
    """Check the shards (all before writing anything), gather their units, assemble and mark complete."""
    clock = Clock()
    out = OutputPaths(Path(cfg.output_dir))
    check_output_dir(out.root)
    shard_dirs = shard_directories([Path(d) for d in cfg.shard_dirs], cfg.shard_list, out.root)
    check_inputs_survive(out, shard_dirs, out.everything_written(), "shard directory")
    shards, plans = read_shards(shard_dirs)
    info = _merged_info(shards)
    if cfg.sequences and not info["parameters"].get("sequences"):
        log.warning("the shards were run with --no-sequences: the merged run has the tables only (no viral.fa, "
                    "regions.fa or regions.gff3); rerun the shards without it to get them")
    info["parameters"]["sequences"] = bool(info["parameters"].get("sequences")) and cfg.sequences
    _check_region_length(info, cfg.min_region_length)
    with held_directory(out, "predict") as session, stop_on_signals():
        if (done := already_complete(out, info, cfg.force)) is not None:
            with run_log(out.log, info):  # a no-op rerun is logged too
                log.info("%s already holds these shards' merged results: nothing to do", out.root)
            return done
        claim(out, info, cfg.force)
        session.claimed = True
        with run_log(out.log, info):
            _gather_units(shards, plans, out)
            clock.lap("gather_units")
            finish(out, info, plans, clock, keep_intermediate=False, write_intermediate=lambda: None)
    return info


def _merged_info(shards: list[Shard]) -> dict:
    """The run's info as one predict run would have it, plus where it came from."""
    info = copy.deepcopy(shards[0].info)
    for key in ("shard", "plan", "outputs", "seconds", "devices"):
        info.pop(key, None)
    info["parameters"].pop("shard", None)
    info["counts"].pop("shard_frames", None)
    info["status"] = "running"
    info["command"] = command_line()
    info["started"] = now_iso()
    info["merged_from"] = [{"shard": s.spec.describe(), "directory": str(s.directory.resolve()),
                            "devices": s.info.get("devices", [])} for s in shards]
    return info


def _check_region_length(info: dict, wanted: int | None) -> None:
    """regions.tsv of a merge must be the one-run table: the shards' --min-region-length, never another.

    Raises:
        InputError: `wanted` differs from the value the shards were run with.
    """
    used = info["parameters"].get("min_region_length")
    if wanted is not None and wanted != used:
        raise InputError(f"--min-region-length {wanted} differs from the shards' {used}: merge with the shards' value "
                         "(leave the flag out), or rerun the shards with the new one")


def _gather_units(shards: list[Shard], plans: list[UnitPlan], out: OutputPaths) -> None:
    """Each unit from the shard that owns it (hard link where possible, else a copy)."""
    make_dirs(out.units)
    owner = {s.spec.index: s for s in shards}
    count = shards[0].spec.count
    for p in plans:
        shard = OutputPaths(owner[p.index % count + 1].directory)
        _link(unit_path(shard.units, p.index), unit_path(out.units, p.index))
        if shard.unit_sequences(p.index).exists():  # stored sequences (shards run without --no-sequences)
            _link(shard.unit_sequences(p.index), out.unit_sequences(p.index))


def _link(src: Path, dst: Path) -> None:
    """Hard link where possible, else a copy (never through a link planted at `dst`)."""
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        with open(src, "rb") as fh, create_new(dst) as copy:
            shutil.copyfileobj(fh, copy)


def add_parser(sub) -> None:
    p = flags.subparser(sub, "merge", "join the shard directories of one `predict --shard I/N` run",
                      "Check that the shards belong to one run and hold every work unit exactly once, "
                      "then write the same outputs as one predict run, byte for byte.")
    p.add_argument("shard_dirs", nargs="*", type=A.directory, metavar="SHARD_DIR", help="-o directories of the shard "
                   "runs, or the directory that holds them (then every subdirectory with a run is a shard)")
    p.add_argument("--shard-list", type=A.directory, metavar="FILE", help="a file naming shard directories, one per "
                   "line ('-': stdin), for more shards than a command line holds")
    p.add_argument("-o", "--output-dir", type=A.directory, required=True, help="directory for the merged outputs")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    flags.region_args(p, default=None)
    flags.sequence_args(p)
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    run(MergeConfig(shard_dirs=args.shard_dirs, output_dir=args.output_dir, force=args.force,
                     min_region_length=args.min_region_length, shard_list=args.shard_list, sequences=args.sequences))
    return 0
