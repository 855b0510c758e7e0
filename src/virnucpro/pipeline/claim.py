"""Claiming a locked output directory for a predict run: fresh, resumed, restarted or already done.

Called with the directory lock held, so every temporary file found here is a leftover of a killed
run and is removed. The rules (README, "Guarantees"): a complete run with the same parameters,
models and input is left alone if its tables still match their recorded checksums; a run that
committed no work unit may change anything; an unfinished run with committed units resumes only
with the same parameters, models and input; `--force` removes everything a run wrote first.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from virnucpro.errors import ResumeError
from virnucpro.io.hashing import sha256_file
from virnucpro.nofollow import check_not_link, remove_entry
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.run_info import check_resumable, read_info, same_finished_run, write_info
from virnucpro.pipeline.workunits import committed_units, damaged_units, unit_path

log = logging.getLogger("virnucpro")
STALE_TEMPORARY = re.compile(r"^\..+\.tmp-[0-9]+$")  # atomic.tmp_path's names: `.NAME.tmp-PID`
STALE_MERGE = re.compile(r"^\.merge-[a-z0-9_]{8}$")  # tempfile.TemporaryDirectory(prefix=".merge-") in workunits


def already_complete(out: OutputPaths, info: dict, force: bool) -> dict | None:
    """The finished run's info if `out` already holds this very run with intact tables, else None."""
    old = read_info(out.run_info)
    if force or old is None or old.get("status") != "complete" or not same_finished_run(old, info):
        return None
    damaged = damaged_outputs(out, old)
    if damaged:
        log.warning("%s no longer matches its checksum in run_info.json: recomputing the run", damaged)
        return None
    if "shard" not in old and old.get("parameters", {}).get("mode") != "extract" and not out.report.is_file():
        from virnucpro.report.page import write_report

        write_report(out.root)
    return old


def damaged_outputs(out: OutputPaths, info: dict) -> str | None:
    """Name of the first result table (a shard: work unit) that is missing or differs from its record, else None."""
    if "shard" in info:
        from virnucpro.pipeline.shards import plan_from_json

        plans = plan_from_json(info.get("plan", []))
        mine = info["shard"].get("units", [])
        bad = [k for k in mine if k >= len(plans)] or damaged_units(out.units, [plans[k] for k in mine])
        if not bad and info.get("parameters", {}).get("sequences"):
            from virnucpro.writers.slices import damaged_slices

            bad = damaged_slices(out, [plans[k] for k in mine])
        return f"work unit {bad[0]}" if bad else None
    recorded = info.get("outputs", {})
    if info.get("parameters", {}).get("mode") == "extract":
        return _damaged_extract(out, recorded)
    for p in [*out.tables(), *(q for q in out.sequence_outputs() if q.name in recorded)]:
        if p.name not in recorded or not p.is_file() or sha256_file(p) != recorded[p.name]:
            return p.name
    return None


def _damaged_extract(out: OutputPaths, recorded: dict) -> str | None:
    """An extract run: its index must match its checksum and every part it lists must be readable and whole."""
    import json

    from virnucpro.pipeline.outputs import index_parts
    from virnucpro.pipeline.worker import embeddings_file_ok

    idx = out.embeddings_index
    if not idx.is_file() or sha256_file(idx) != recorded.get("index.json"):
        return "embeddings/index.json"
    for part in index_parts(json.loads(idx.read_text())):
        if not embeddings_file_ok(out.embeddings / part["file"], part["frames"], part.get("sha256", "")):
            return f"embeddings/{part['file']}"
    return None


def output_checksums(out: OutputPaths) -> dict[str, str]:
    """sha256 of the tables and of the sequence files this run wrote (an earlier run's were wiped)."""
    return {p.name: sha256_file(p) for p in [*out.tables(), *(q for q in out.sequence_outputs() if q.is_file())]}


def claim(out: OutputPaths, info: dict, force: bool, resume: bool = False, keep: tuple[Path, ...] = ()) -> None:
    """Make `out` this run's directory (writes run_info.json with status 'running'). `keep`: files of this run
    already in it (its spooled inputs), never wiped.

    Raises:
        ResumeError: the directory holds another run that must not be overwritten without --force.
        InputError: a directory stands where the run writes a file.
    """
    remove_stale_temporaries(out)
    check_no_foreign_directories(out)
    if not force:  # --force unlinks them (wipe); otherwise refused before the directory is claimed
        for folder in (out.units, out.embeddings):
            check_not_link(folder)
    old = read_info(out.run_info)
    if force:
        wipe(out, keep)
    elif old is not None and old.get("status") == "complete":
        if not same_finished_run(old, info):
            check_resumable(old, info, out.root, complete=True)
        wipe(out, keep)  # same run, damaged tables (already_complete said so): compute again
    elif old is not None:
        if committed_units(out.units):
            check_resumable(old, info, out.root)
            log.info("continuing the unfinished run in %s", out.root)
        else:
            log.info("the earlier run in %s committed no work: starting over", out.root)
            wipe(out, keep)
    elif any(p.exists() for p in (*out.tables(), out.units)):
        raise ResumeError(f"{out.root} holds results but no readable run_info.json: pass --force to start over, or "
                          "use another -o/--output-dir")
    elif resume:
        log.warning("--resume: nothing to resume in %s, starting a new run", out.root)
    write_info(out.run_info, info)


def wipe(out: OutputPaths, keep: tuple[Path, ...] = ()) -> None:
    """Remove everything an earlier run wrote (only virnucpro's own files; other files stay); a link among them is
    unlinked itself, never followed out of the directory. `keep`: this run's own files already there (its spooled
    inputs, read from the directory after the claim). Its only caller, `claim`, has refused directories at file
    names (`check_no_foreign_directories`) before any of this."""
    kept = {os.path.abspath(p) for p in keep}
    for p in out.everything_written():
        if os.path.abspath(p) not in kept:
            remove_entry(p)


def check_no_foreign_directories(out: OutputPaths) -> None:
    """Where virnucpro writes a file there is no directory (a user's folder at `viral.fa` is never removed).

    Raises:
        InputError: naming the directory and the fix.
    """
    from virnucpro.errors import InputError

    ours = {out.units, out.embeddings}
    for p in out.everything_written():
        if p not in ours and p.is_dir() and not p.is_symlink():
            raise InputError(f"{str(p)!r} is a directory where virnucpro writes a file: move it out of "
                             f"{str(out.root)!r}, or use another -o/--output-dir")


def remove_stale_temporaries(out: OutputPaths) -> None:
    """Temporary files and merge folders of killed runs (`.NAME.tmp-PID`, `.merge-*`)."""
    for folder in (out.root, out.units, out.embeddings):
        if not folder.is_dir() or folder != out.root and folder.is_symlink():  # never clean through a planted link
            continue
        for p in folder.iterdir():
            if STALE_MERGE.match(p.name) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            elif STALE_TEMPORARY.match(p.name) and (p.is_file() or p.is_symlink()):
                p.unlink(missing_ok=True)
                log.debug("removed the stale temporary %s", p)


def remove_extra_units(units_dir: Path, n_units: int) -> None:
    """Unit files outside the plan (copied in, or from a longer earlier input) are never assembled."""
    for k in committed_units(units_dir):
        if k >= n_units:
            unit_path(units_dir, k).unlink(missing_ok=True)
