"""Resolve a model argument: a local path, or a Hugging Face hub id fetched into the cache."""

from __future__ import annotations

import os
from pathlib import Path

from virnucpro.errors import ModelError
from virnucpro.models.download_errors import describe


def looks_like_path(ref: str) -> bool:
    """True for things that can only be paths (absolute, ./, ~, or more than one '/')."""
    return ref.startswith((".", "/", "~")) or ref.count("/") != 1 or os.sep != "/" and os.sep in ref


def resolve_model(ref: str, *, revision: str | None = None, cache_dir: Path | None = None,
                  allow_patterns: list[str] | None = None, offline: bool = False,
                  in_download_command: bool = False, flag: str = "") -> Path:
    """Local directory/file for `ref`, downloading a hub snapshot if needed (and allowed).

    `flag` names the option that takes a local copy instead (`--esm DIR`), for the error's fix.

    Honours HF_HUB_OFFLINE / HF_HOME through huggingface_hub; `offline=True` forbids network use.
    Raises:
        ModelError: not found locally and not obtainable, with the command that fixes it.
    """
    p = Path(ref).expanduser()
    if p.exists():
        return p
    if looks_like_path(ref):
        raise ModelError(f"model path {ref!r} does not exist: check the path, or give a Hugging Face id "
                         "like org/name")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(ref, revision=revision, cache_dir=str(cache_dir) if cache_dir else None,
                                      allow_patterns=allow_patterns, local_files_only=offline))
    except Exception as exc:  # hub errors: offline, not cached, no such repo, network down, disk full
        cause, fix = describe(exc, in_download_command, flag)
        raise ModelError(f"model {ref!r}{' @ ' + revision if revision else ''} could not be downloaded: {cause}: "
                         f"{fix}") from None
