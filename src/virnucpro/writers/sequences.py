"""The finish stage's sequence files: the input read again (or a merge's slices) -> every sequence file, checked.

Called once by the finish stage; a shard's finish stage only stores its units' slices (`slice_shard`).
Both paths select the same records in the same order (`slices.stored_units`), so a merge writes the
one-run files byte for byte. Writes nothing with `--no-sequences` (parameter `sequences` false), nor for
runs recorded before the sequence files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain

from virnucpro.atomic import atomic_files
from virnucpro.errors import IntegrityError
from virnucpro.io.source_records import SourceRecord, input_keys, source_records
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.workunits import UnitPlan
from virnucpro.writers.region_files import RegionWriter, region_rows
from virnucpro.writers.slices import damaged_slices, read_slices, slice_keys, stored_units, write_slices
from virnucpro.writers.viral_files import viral_records, write_viral

log = logging.getLogger("virnucpro")


@dataclass(frozen=True)
class Source:
    """The run's inputs, to be read again for the sequence files."""

    paths: list[str]
    paired: bool
    threads: int = 1
    digests: list[str] | None = None  # each file's sha256 recorded at the start: checked as it is read again

    def records(self) -> Iterator[SourceRecord]:
        return source_records(self.paths, self.paired, self.threads, self.digests)

    def keys(self) -> list[str]:
        return input_keys(self.paths, self.paired)


def wanted(info: dict) -> bool:
    """Does this run write sequence files? (runs recorded before them, like --no-sequences: no)."""
    return bool(info["parameters"].get("sequences", False))


def slice_shard(out: OutputPaths, info: dict, plans: list[UnitPlan], owns: Callable[[int], bool],
                source: Source) -> None:
    """A shard stores the slices of its own units, for `merge` (which cannot read the input)."""
    if wanted(info):
        write_slices(out, plans, source.records(), _min_length(info), owns, source.keys())


def write_sequence_files(out: OutputPaths, info: dict, plans: list[UnitPlan], source: Source | None,
                         virus: int, regions: int) -> dict[str, int] | None:
    """Write the files from the input read again (`source`), or from the slices a merge gathered; records per file.

    Args:
        virus, regions: the tables' count of `virus` sequences and of regions.tsv rows (checked).

    Raises:
        IntegrityError: a slice is damaged, or the files would not account for the tables.
    """
    if not wanted(info):
        return None
    if source is not None:
        keys = source.keys() if plans else []  # no records at all: no viral files (as a merge of no units)
        stored = chain.from_iterable(s for _, s in stored_units(out, plans, source.records(), _min_length(info)))
    else:
        bad = damaged_slices(out, plans)
        if bad:
            raise IntegrityError(f"the stored sequences of work unit(s) {bad[:5]} are missing or damaged: rerun the "
                                 "shards' predict commands")
        slices = [out.unit_sequences(p.index) for p in plans]
        keys = slice_keys(slices[0]) if slices else []
        stored = read_slices(slices)
    return _write(out, keys, stored, virus, regions, RERUN if source is not None else RERUN_SHARDS)


RERUN = "rerun with --force"
RERUN_SHARDS = "rerun the shards' predict commands with --force, then merge again"  # merge reads no input


def _write(out: OutputPaths, keys: list[str], stored: Iterator, virus: int, regions: int,
           fix: str = RERUN) -> dict[str, int]:
    """The viral files named by `keys` and the two region files, from the stored (verdict, record) stream."""
    viral_paths = [out.viral(k[:2], int(k[2:])) for k in keys]
    with atomic_files([*viral_paths, out.regions_fasta, out.regions_gff3]) as handles:
        region_writer = RegionWriter(region_rows(out.regions), handles[-2], handles[-1], out.units, fix)
        seen = {"virus": 0}
        paired = any(k[2:] != "0" for k in keys)
        counts = write_viral(viral_records(_feeding(stored, region_writer, seen), paired), dict(zip(keys, handles)))
        written = region_writer.close()
    _check(seen["virus"], virus, written, regions, fix)
    log.info("viral sequences: %s; %d region(s) in %s and %s", ", ".join(
        f"{counts[k]} in {p.name}" for k, p in zip(keys, viral_paths)) or "none", written, out.regions_fasta.name,
        out.regions_gff3.name)
    return {**{p.name: counts[k] for k, p in zip(keys, viral_paths)}, out.regions_fasta.name: written,
            out.regions_gff3.name: written}


def _feeding(stored, regions: RegionWriter, seen: dict) -> Iterator:
    """The stored records, each also handed to the region writer; counts the `virus` ones."""
    for verdict, r in stored:
        regions.add(r)
        seen["virus"] += verdict == "virus"
        yield verdict, r


def _check(stored_virus: int, virus: int, written: int, regions: int, fix: str = RERUN) -> None:
    if stored_virus != virus or written != regions:
        raise IntegrityError(f"the sequence files do not account for the tables ({stored_virus} of {virus} virus "
                             f"sequences, {written} of {regions} regions): {fix}")


def _min_length(info: dict) -> int:
    from virnucpro.models.regions import region_model

    return region_model(info["parameters"]).min_length
