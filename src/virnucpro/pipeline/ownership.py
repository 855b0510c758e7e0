"""Which command owns an output directory, and what a run must never remove.

Every command that writes a directory records itself as `owner` in DIR/run_info.json (predict and
merge write the same kind of run: "predict"; extract, prepare and train their own). A command
refuses a directory another command owns, with or without --force: --force replaces a run of the
same command only. Inputs (and the shards given to merge) are never among what a run replaces.
"""

from __future__ import annotations

import os
from pathlib import Path

from virnucpro.errors import InputError, ResumeError
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.run_info import read_info

TRAIN_FILES = ("classifier.safetensors", "metrics.json")  # a training run from before owners were recorded


def owner_of(root: Path) -> str | None:
    """The command whose run `root` holds (read from run_info.json, or inferred for older runs), else None."""
    info = read_info(root / "run_info.json")
    if isinstance(info, dict):
        if isinstance(info.get("owner"), str):
            return info["owner"]
        if info.get("command") == "prepare":
            return "prepare"
        params = info.get("parameters")
        if isinstance(params, dict):
            return "extract" if params.get("mode") == "extract" else "predict"
    return _owner_by_files(OutputPaths(root))


def _real_dir(p: Path) -> bool:
    return p.is_dir() and not p.is_symlink()


def _owner_by_files(out: OutputPaths) -> str | None:
    """The owner inferred from the files a run leaves, for a run_info.json that is missing, damaged or not
    a virnucpro record (an older run, or one whose record was edited away: its results still are not ours)."""
    if _real_dir(out.embeddings):  # a link planted there is no run: the claim names it
        return "extract"
    if _real_dir(out.units) or any(p.exists() for p in out.tables()):
        return "predict"
    if any(p.exists() for p in out.prepare_files()):
        return "prepare"
    if any((out.root / name).is_file() for name in TRAIN_FILES):
        return "train"
    if (out.root / "Snakefile").is_file():
        return "workflow"
    return None


def check_owner(root: Path, owner: str) -> None:
    """Refuse `root` when it holds another command's run.

    Raises:
        ResumeError: naming the owning command and the fix.
    """
    found = owner_of(root)
    if found is not None and found != owner:
        raise ResumeError(f"{root} holds a `virnucpro {found}` run, and `{owner}` never replaces another command's "
                          f"run (not even with --force): use another {where_flag(owner)}")


def where_flag(command: str) -> str:
    """How `command` is told its directory: `workflow` takes it as an argument, every other command as -o."""
    return "DIRECTORY" if command == "workflow" else "-o/--output-dir"


def check_inputs_survive(out: OutputPaths, inputs: list[str | Path], written: list[Path], what: str = "input") -> None:
    """Refuse a run whose outputs (`written`, or the directory itself) would replace or remove one of its inputs.

    Raises:
        InputError: naming the input and the fix.
    """
    targets = [_resolved(p) for p in written]
    root = _resolved(out.root)
    for given in inputs:
        if str(given) == "-":
            stdin = _stdin_file()
            if stdin is None:  # a pipe or a terminal: what feeds it cannot be known
                continue
            given, path = f"- ({stdin})", stdin
        else:
            path = _resolved(Path(given))
        for t in (*targets, root):
            if path == t or (t != root and t in path.parents):
                raise InputError(f"{what} {str(given)!r} is one of the files this run writes in {out.root}: it would "
                                 "be overwritten or removed; use another -o/--output-dir")
        if removed_on_start(out, path):
            raise InputError(f"{what} {str(given)!r} is named like a temporary file of a killed run, which a run "
                             "removes from its -o on start: rename it or move it elsewhere")


def _stdin_file() -> Path | None:
    """The regular file standard input is redirected from (`- < FILE`), where the system says (Linux), else None."""
    import stat
    import sys

    try:
        if not stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
            return None
        return _resolved(Path(os.readlink(f"/proc/self/fd/{sys.stdin.fileno()}")))
    except (OSError, ValueError, AttributeError):  # no stdin, a replaced sys.stdin, no /proc
        return None


def removed_on_start(out: OutputPaths, path: Path) -> bool:
    """Whether `path` (resolved) is where a run's clean-up looks for a killed run's leftovers: `.NAME.tmp-PID` and
    `.merge-*` in the directory, its work units or embeddings, and spooled inputs (`.input.spool*`) in it."""
    from virnucpro.io.seqio import SPOOLED_NAME
    from virnucpro.pipeline.claim import STALE_MERGE, STALE_TEMPORARY

    root = _resolved(out.root)
    folders = {root, _resolved(out.units), _resolved(out.embeddings)}
    for p in (path, *path.parents):  # the file itself, or a folder it is in (a merge folder is removed whole)
        if p.parent in folders and (STALE_TEMPORARY.match(p.name) or STALE_MERGE.match(p.name)
                                    or p.parent == root and p.name.startswith(SPOOLED_NAME)):
            return True
    return False


def _resolved(p: Path) -> Path:
    try:
        return Path(p).expanduser().resolve(strict=False)
    except (RuntimeError, OSError):  # a link loop: it cannot be one of our outputs; its own check names it
        return Path(os.path.abspath(Path(p).expanduser()))


def start_owned_run(out: OutputPaths, owner: str, parameters: dict, replaces: tuple[str, ...] = ()) -> dict:
    """Claim a held directory for `owner`: remove the previous run's `replaces` outputs, write run_info 'running'.

    Until the run marks itself complete, nothing left from an earlier run can pass for this one's result.
    """
    from virnucpro.logs import command_line
    from virnucpro.pipeline.run_info import now_iso, write_info

    for name in replaces:
        (out.root / name).unlink(missing_ok=True)
    info = {"tool": "virnucpro", "owner": owner, "status": "running", "command": command_line(), "started": now_iso(),
            "parameters": parameters}
    write_info(out.run_info, info)
    return info


def finish_owned_run(out: OutputPaths, info: dict) -> None:
    """Mark the run complete (its outputs are all written)."""
    from virnucpro.pipeline.run_info import mark_complete, write_info

    write_info(out.run_info, mark_complete(dict(info)))
