"""Which chunk size a classifier was trained for, so a 300-bp classifier never scores 500-bp chunks.

Known from: the model store's record of the published files it fetched (`classifiers/chunk_sizes.json`:
sha256 -> chunk size), the cache's own file names (`classifiers/{300,500}_model.pth`), or a
`chunk_size` entry in a safetensors classifier's metadata (what `train` writes). Anything else is
unknown: allowed, with a warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.errors import ModelError

log = logging.getLogger("virnucpro")
REGISTRY = "chunk_sizes.json"


def record_published(classifiers_dir: Path, sha256: str, chunk_size: int) -> None:
    """Remember that the file with this sha256 is the published classifier for `chunk_size`."""
    path = classifiers_dir / REGISTRY
    known = _read(path)
    known[sha256] = chunk_size
    try:
        write_atomic(path, json.dumps(known, indent=1) + "\n")
    except OSError:
        log.warning("could not record the classifier's chunk size in %s (read-only cache?)", path)


def trained_chunk_size(classifier: Path, sha256: str, classifiers_dir: Path) -> int | None:
    """The chunk size this classifier is for, if anything records it."""
    known = _read(classifiers_dir / REGISTRY).get(sha256)
    if known is not None:
        return int(known)
    if classifier.resolve().parent == classifiers_dir.resolve() and classifier.name in ("300_model.pth",
                                                                                         "500_model.pth"):
        return int(classifier.name.split("_")[0])
    if classifier.suffix == ".safetensors":
        return _metadata_chunk_size(classifier)
    return None


def check_chunk_size(classifier: Path, sha256: str, classifiers_dir: Path, chunk_size: int) -> str | None:
    """Refuse a classifier recorded for another chunk size; a warning when nothing records one.

    Returns:
        The warning, for the caller to log once the input is checked (so it never precedes an input
        error), or None.
    Raises:
        ModelError: naming both chunk sizes and the fix.
    """
    trained = trained_chunk_size(classifier, sha256, classifiers_dir)
    if trained is None:
        return f"{classifier} records no chunk size: make sure it was trained for --chunk-size {chunk_size}"
    if trained != chunk_size:
        raise ModelError(f"classifier {classifier.name!r} is for {trained}-bp chunks, not --chunk-size {chunk_size}: "
                         f"pass --chunk-size {trained}, or the classifier for {chunk_size}-bp chunks")
    return None


def _metadata_chunk_size(path: Path) -> int | None:
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as st:
            value = (st.metadata() or {}).get("chunk_size")
    except Exception:  # capability probe: an unreadable file fails later, in loading, with its own message
        return None
    return int(value) if value is not None and str(value).isdigit() else None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
