"""A run cut into shards: `predict --shard I/N` computes every N-th unit of the plan (unit k belongs to
shard k mod N + 1) and keeps them with the whole plan; `merge` checks that the shards belong to one
run and together hold every unit exactly once, then assembles the same tables as one run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.pipeline.build import build_difference
from virnucpro.pipeline.run_info import RESUME_KEYS, load_info
from virnucpro.pipeline.workunits import UnitPlan, damaged_units

SHARD = re.compile(r"^([0-9]{1,12})/([0-9]{1,12})$")
MAX_SHARDS = 100_000  # one cluster job per shard; merge reads every shard directory


@dataclass(frozen=True)
class ShardSpec:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """'I/N' with 1 <= I <= N.

        Raises:
            ValueError: naming the expected form.
        """
        m = SHARD.match(text.strip())
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)) <= MAX_SHARDS:
            raise ValueError(f"{text[:40]!r} is not a shard: use I/N with 1 <= I <= N <= {MAX_SHARDS}, e.g. 2/8")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, unit_index: int) -> bool:
        return unit_index % self.count == self.index - 1

    def describe(self) -> str:
        return f"{self.index}/{self.count}"


def plan_to_json(plans: list[UnitPlan]) -> list[list]:
    return [[p.frames, p.chunks_with_frames, p.records, p.ids_digest] for p in plans]


def plan_from_json(rows: list[list]) -> list[UnitPlan]:
    return [UnitPlan(k, *row) for k, row in enumerate(rows)]


@dataclass(frozen=True)
class Shard:
    """A finished shard directory, read for merging."""

    directory: Path
    info: dict

    @property
    def spec(self) -> ShardSpec:
        return ShardSpec.parse(f"{self.info['shard']['index']}/{self.info['shard']['count']}")

    @property
    def label(self) -> str:
        return f"shard {self.spec.describe()} ({self.directory})"


def read_shards(directories: list[Path]) -> tuple[list[Shard], list[UnitPlan]]:
    """The shards of one run and its plan, after every check a merge needs.

    Raises:
        InputError: a directory is not a finished shard, belongs to another run, is given twice or
            is missing, or one of its units does not verify.
    """
    shards = [_read_shard(d) for d in directories]
    first = shards[0]
    for s in shards[1:]:
        _check_same_run(first, s)
    count = first.spec.count
    seen: dict[int, Shard] = {}
    for s in shards:
        if s.spec.index in seen:
            raise InputError(f"shard {s.spec.describe()} is given twice ({seen[s.spec.index].directory} and "
                             f"{s.directory}): give each shard once")
        seen[s.spec.index] = s
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        raise InputError(f"shard {missing[0]}/{count} is missing ({len(missing)} of {count} shards missing): give "
                         f"all {count} shard directories")
    _check_merging_version(first)
    plans = plan_from_json(first.info["plan"])
    for s in shards:
        _check_units(s, plans)
    return shards, plans


def _read_shard(directory: Path) -> Shard:
    path = directory / "run_info.json"
    info = load_info(path) if path.exists() else None
    given = info.get("parameters", {}).get("shard") if isinstance(info, dict) else None
    if not isinstance(info, dict) or ("shard" not in info and not given):
        raise InputError(f"{directory} is not a shard directory (no run_info.json of a --shard run): give the -o "
                         "directories of `virnucpro predict --shard I/N` runs")
    if info.get("status") != "complete" or "shard" not in info:
        raise InputError(f"shard {given} ({directory}) is not finished (still running, or stopped or killed): wait "
                         "for it, or rerun its predict command to finish it, then merge")
    shard = info["shard"]
    try:
        ShardSpec.parse(f"{shard['index']}/{shard['count']}")
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{directory}/run_info.json records no valid shard (I/N): rerun that shard's predict "
                         "command with --force") from None
    _check_shard_record(path, info)
    return Shard(directory, info)


def _check_shard_record(path: Path, info: dict) -> None:
    """The fields merge reads: shard {index, count, units} and the unit plan, of the right types.

    Raises:
        InputError: naming the file and the first missing or malformed field.
    """
    shard, plan = info.get("shard"), info.get("plan")
    ok = (isinstance(shard, dict) and all(isinstance(shard.get(k), int) for k in ("index", "count"))
          and isinstance(shard.get("units"), list) and all(isinstance(k, int) for k in shard["units"])
          and isinstance(plan, list) and all(isinstance(r, list) and len(r) == 4 for r in plan)
          and 1 <= shard["index"] <= shard["count"])
    if not ok:
        raise InputError(f"{str(path)!r} lacks or garbles its shard record (shard index/count/units, plan): rerun "
                         "that shard's predict command with --force")


def _check_same_run(a: Shard, b: Shard) -> None:
    diff = build_difference(a.info.get("build"), b.info.get("build"), (f"in {a.spec.describe()}",
                                                                        f"in {b.spec.describe()}"))
    if diff is not None:
        raise InputError(f"{b.label} was computed by another build than shard {a.spec.describe()} ({diff}; scores "
                         "could differ in the last bits): rerun it on the others' build (--force), then merge")
    for key in (*RESUME_KEYS, "plan"):
        va, vb = a.info.get(key), b.info.get(key)
        if key == "parameters":
            va, vb = ({k: v for k, v in (x or {}).items() if k != "shard"} for x in (va, vb))
        if va != vb:
            raise InputError(f"{b.label} belongs to another run than {a.label} (different {key}): merge shards of one "
                             "predict command")
    if a.spec.count != b.spec.count:
        raise InputError(f"{b.label} is one of {b.spec.count} shards, {a.label} one of {a.spec.count}: merge shards "
                         "of one run")


def _check_merging_version(shard: Shard) -> None:
    """This virnucpro assembles the tables and regions.tsv from the units: it must be the shards' own version.

    Raises:
        InputError: naming both versions.
    """
    from virnucpro import __version__

    build = shard.info.get("build")
    then = build.get("virnucpro") if isinstance(build, dict) else None
    if then != __version__:
        raise InputError(f"the shards were computed by virnucpro {then or '(an older version: no build recorded)'}, "
                         f"this is virnucpro {__version__} (merge assembles the tables and regions with its own rules): "
                         f"merge with virnucpro {then or 'of the shards'}, or rerun the shards with this one")


def _check_units(shard: Shard, plans: list[UnitPlan]) -> None:
    mine = [p for p in plans if shard.spec.owns(p.index)]
    bad = damaged_units(shard.directory / "work_units", mine)
    if not bad and shard.info["parameters"].get("sequences"):
        from virnucpro.pipeline.outputs import OutputPaths
        from virnucpro.writers.slices import damaged_slices

        bad = damaged_slices(OutputPaths(shard.directory), mine)
    if bad:
        raise InputError(f"{shard.label}: work unit {bad[0]} is missing or damaged: rerun that shard's predict "
                         "command (it recomputes the unit)")
