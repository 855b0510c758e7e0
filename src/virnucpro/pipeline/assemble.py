"""The last stage: verify every unit, assemble the three tables and regions.tsv atomically, check that they
account for the whole input, and mark the run complete (with the tables' checksums)."""

from __future__ import annotations

import json
import logging
import shutil
from typing import Callable

from virnucpro.atomic import atomic_files, write_atomic
from virnucpro.errors import IntegrityError
from virnucpro.pipeline.claim import output_checksums, remove_extra_units
from virnucpro.pipeline.outputs import (HIGHEST_HEADER, INDEX_PARTS, PREDICTION_HEADER, REGIONS_HEADER,
                                       SEQUENCES_HEADER, OutputPaths)
from virnucpro.pipeline.region_table import RegionCounts, write_regions
from virnucpro.pipeline.run_info import mark_complete, write_info
from virnucpro.pipeline.shards import plan_to_json
from virnucpro.pipeline.workunits import UnitPlan, assemble, damaged_units, unit_path
from virnucpro.writers.sequences import Source, slice_shard, write_sequence_files
from virnucpro.models.regions import region_model
from virnucpro.report.page import write_report
from virnucpro.stopwatch import Clock

log = logging.getLogger("virnucpro")
VERDICTS = ("virus", "others", "no_frames")


def finish(out: OutputPaths, info: dict, plans: list[UnitPlan], clock: Clock, keep_intermediate: bool,
           write_intermediate: Callable[[], None], source: Source | None = None) -> None:
    """Verify, assemble, check, write the sequence files, mark complete; then drop the units (unless kept).

    `source`: the inputs, read again for the sequence files (None: a merge, whose shards stored what it needs).

    Raises:
        IntegrityError: a unit changed during the run, or the tables miss or add rows.
    """
    damaged = damaged_units(out.units, plans)
    if damaged:
        raise IntegrityError(f"work unit(s) {damaged[:5]} changed during the run: rerun the same command (damaged "
                             "units are recomputed)")
    remove_extra_units(out.units, len(plans))
    unit_files = [unit_path(out.units, p.index) for p in plans]
    with atomic_files(out.tables()) as (pred, high, seqs, regs):
        pred.write(PREDICTION_HEADER)
        high.write(HIGHEST_HEADER)
        seqs.write(SEQUENCES_HEADER)
        rows = assemble(unit_files, pred, high, seqs)
        check_rows(rows, info["counts"], plans)
        regs.write(REGIONS_HEADER)
        found = write_regions(unit_files, regs, info["parameters"]["chunk_size"], region_model(info["parameters"]))
        check_regions(found, rows)
    if keep_intermediate:
        write_intermediate()
    info["counts"]["sequences_by_verdict"] = {v: rows.get(v, 0) for v in VERDICTS}
    info["counts"]["regions"] = found.regions
    files = write_sequence_files(out, info, plans, source, rows.get("virus", 0), found.regions)
    if files is not None:
        info["counts"]["sequence_files"] = files
    info["outputs"] = output_checksums(out)
    clock.lap("assemble")
    info["seconds"] = clock.summary()
    mark_complete(info)
    write_info(out.run_info, info)  # complete before the units go: a kill in between loses no work
    if not keep_intermediate:
        shutil.rmtree(out.units, ignore_errors=True)
    _log_summary(out, info)
    write_report(out.root)  # a view of the finished run: rebuilt by a rerun or `virnucpro report` if lost


def finish_shard(out: OutputPaths, info: dict, plans: list[UnitPlan], clock: Clock, shard,
                 source: Source | None = None) -> None:
    """A shard keeps its verified units (with their stored sequences) and the whole plan for `virnucpro merge`;
    it writes no tables.

    Raises:
        IntegrityError: one of this shard's units changed during the run.
    """
    mine = [p for p in plans if shard.owns(p.index)]
    damaged = damaged_units(out.units, mine)
    if damaged:
        raise IntegrityError(f"work unit(s) {damaged[:5]} changed during the run: rerun the same command")
    remove_extra_units(out.units, len(plans))
    if source is not None:
        slice_shard(out, info, plans, shard.owns, source)
    info["shard"] = {"index": shard.index, "count": shard.count, "units": [p.index for p in mine]}
    info["plan"] = plan_to_json(plans)
    info["counts"]["shard_frames"] = sum(p.frames for p in mine)
    clock.lap("assemble")
    info["seconds"] = clock.summary()
    mark_complete(info)
    write_info(out.run_info, info)
    log.info("shard %s done: %d of %d units, %d frames; %s", shard.describe(), len(mine), len(plans),
             info["counts"]["shard_frames"], _next_step(shard.count))


def _next_step(shards: int) -> str:
    """What follows a finished shard: the workflow's own merge job, or the user's `virnucpro merge`."""
    import os

    from virnucpro.workflow.commands import WORKFLOW_ENV  # set to 1 by the workflow's shard jobs

    if os.environ.get(WORKFLOW_ENV) == "1":
        return "the workflow merges the shards itself (rule merge) once all of them are done"
    return f"merge all {shards} shard directories with `virnucpro merge`"


def finish_extract(out: OutputPaths, info: dict, plans: list[UnitPlan], clock: Clock) -> None:
    """`extract`: verify every unit and its embeddings file (a part), write embeddings/index.json, mark complete.

    Raises:
        IntegrityError: a unit or a part changed during the run.
    """
    from virnucpro.io.hashing import sha256_file
    from virnucpro.pipeline.worker import embeddings_ok, embeddings_path

    bad = damaged_units(out.units, plans) or [p.index for p in plans if not embeddings_ok(out, p)]
    if bad:
        raise IntegrityError(f"work unit(s) {bad[:5]} changed during the run: rerun the same command")
    remove_extra_units(out.units, len(plans))
    parts = [{"file": embeddings_path(out, p.index).name, "frames": p.frames,
              "sha256": _seal(embeddings_path(out, p.index))} for p in plans if p.frames]
    index = {"format": "virnucpro-embeddings", "tensors": {"dnabert_s": "float32 (frames, DNABERT-S width)",
             "esm2": "float32 (frames, ESM-2 width)"}, "frame_ids": "metadata 'ids' of each part (JSON list)",
             "chunk_size": info["parameters"]["chunk_size"], "frames": sum(s["frames"] for s in parts),
             "models": info["models"], INDEX_PARTS: parts}
    write_atomic(out.embeddings_index, json.dumps(index, indent=2) + "\n")
    info["outputs"] = {"index.json": sha256_file(out.embeddings_index)}
    clock.lap("assemble")
    info["seconds"] = clock.summary()
    mark_complete(info)
    write_info(out.run_info, info)
    shutil.rmtree(out.units, ignore_errors=True)
    log.info("extracted %d frame embeddings into %d part(s): %s (load them all with "
             "`virnucpro.commands.extract.load(%r)`)", index["frames"], len(parts), out.embeddings, str(out.root))


def _seal(path) -> str:
    """The content checksum a sealed part carries (index.json records it: a swapped part then differs)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as st:
        return st.metadata()["sha256"]


def check_rows(rows: dict, counts: dict, plans: list[UnitPlan]) -> None:
    """One prediction row per kept frame, one consensus row per chunk with frames, one row per record."""
    want = {"prediction_rows": counts["frames"], "consensus_rows": sum(p.chunks_with_frames for p in plans),
            "sequence_rows": counts["records"] - counts["empty_records_skipped"]}
    got = {k: rows[k] for k in want}
    if got != want or sum(p.frames for p in plans) != counts["frames"]:
        raise IntegrityError(f"the assembled tables do not account for the input (rows {got}, expected {want}): the "
                             "input changed during the run? rerun with --force")


def check_regions(found: RegionCounts, rows: dict) -> None:
    """The region pass must have seen every frame, every chunk with frames and every sequence of the tables."""
    seen = {"prediction_rows": found.frames, "consensus_rows": found.chunks_with_frames,
            "sequence_rows": found.sequences}
    want = {k: rows[k] for k in seen}
    if seen != want:
        raise IntegrityError(f"regions.tsv does not account for the tables (saw {seen}, tables hold {want}): rerun "
                             "with --force")


def _log_summary(out: OutputPaths, info: dict) -> None:
    c, v = info["counts"], info["counts"]["sequences_by_verdict"]
    log.info("done in %.1f s: %d records, %d chunks, %d frames; sequences called virus %d, others %d, no frames %d; "
             "per-sequence calls in %s", info["seconds"]["total"], c["records"], c["chunks"], c["frames"], v["virus"],
             v["others"], v["no_frames"], out.sequences)
    log.info("%d viral region(s) in %s", c.get("regions", 0), out.regions)
