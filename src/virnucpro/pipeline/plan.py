"""The unit plan of a run and the units still to compute (this shard's, without a verified committed file)."""

from __future__ import annotations

import logging

from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.shards import ShardSpec
from virnucpro.pipeline.worker import embeddings_ok
from virnucpro.pipeline.workunits import UnitPlan, committed_units, group_units, unit_ok, unit_path

log = logging.getLogger("virnucpro")


def units_to_compute(prepared, unit_frames: int, out: OutputPaths, plans: list[UnitPlan], bar,
                     shard: ShardSpec | None, keep_intermediate: bool):
    """Yield the (plan, unit) pairs to compute; every unit's plan is appended to `plans` (the whole plan)."""
    out.units.mkdir(parents=True, exist_ok=True)
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
