"""The unit plan of a run and the units still to compute (this shard's, without a verified committed file)."""

from __future__ import annotations

import logging

from virnucpro.nofollow import make_dirs
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.shards import ShardSpec
from virnucpro.pipeline.worker import embeddings_ok
from virnucpro.pipeline.workunits import UnitPlan, committed_units, group_units, unit_ok, unit_path

log = logging.getLogger("virnucpro")
TARGET_UNITS = 32  # an input is cut into about this many units, so that every shard of a cluster run has work
# (smallest, largest) unit per device type. A unit's batches never mix with another's (same bits whichever worker
# or shard computes it), so each unit ends in a partly filled batch of each encoder: a GPU unit of 8,192 W150
# frames holds ~7 full ESM-2 batches and lost ~7% of predict's frame rate to its tails; 32,768 holds ~26.
UNIT_FRAMES = {"cuda": (32768, 65536), "cpu": (256, 4096)}


def unit_frames_for(requested: int, device_type: str, frames: int) -> int:
    """Frames per unit: `requested`, or from the input's frame count alone (one plan whatever the shards or the
    number of devices): about TARGET_UNITS units, within the device type's bounds, a multiple of 256."""
    if requested:
        return requested
    smallest, largest = UNIT_FRAMES["cuda" if device_type.startswith("cuda") else "cpu"]
    per_unit = -(-frames // TARGET_UNITS)
    return min(largest, max(smallest, -(-per_unit // 256) * 256))


def first_or_none(items):
    """(the iterator with nothing consumed from the caller's view, whether it holds anything)."""
    import itertools

    it = iter(items)
    first = next(it, None)
    return (itertools.chain([first], it) if first is not None else iter(())), first is not None


def units_to_compute(prepared, unit_frames: int, out: OutputPaths, plans: list[UnitPlan], bar,
                     shard: ShardSpec | None, keep_intermediate: bool):
    """Yield the (plan, unit) pairs to compute; every unit's plan is appended to `plans` (the whole plan)."""
    make_dirs(out.units)  # a link planted at work_units is refused, never written through
    committed = committed_units(out.units)
    if committed:
        log.info("resuming: %d work unit file(s) found; each is verified before it is reused", len(committed))
    for k, u in enumerate(group_units(prepared, unit_frames)):
        plan = UnitPlan.of(k, u)
        plans.append(plan)
        if shard is not None and not shard.owns(k) or k in committed and still_good(out, plan, keep_intermediate):
            bar.skip(plan.frames)
            continue
        yield plan, u


def still_good(out: OutputPaths, plan: UnitPlan, keep_intermediate: bool) -> bool:
    """A committed unit (and its kept embeddings) verifies against the plan; a damaged one is removed."""
    path = unit_path(out.units, plan.index)
    if unit_ok(path, plan) and (not keep_intermediate or embeddings_ok(out, plan)):
        return True
    log.warning("work unit %d is damaged or incomplete (truncated, emptied or altered): recomputing it", plan.index)
    path.unlink(missing_ok=True)
    return False


def say_nothing_to_compute(units: int, shard: ShardSpec | None) -> None:
    """Why no model was loaded: every unit is another shard's, already committed, or the input is empty."""
    if shard is not None and not any(shard.owns(k) for k in range(units)):
        log.warning("shard %s has nothing to compute: the input makes %d work unit(s), all of them other shards' "
                    "(merge still takes this shard)", shard.describe(), units)
    elif units == 0:
        log.info("nothing to compute: the input has no frame to embed (models not loaded)")
    else:
        log.info("nothing to compute: every work unit is already committed (models not loaded)")
