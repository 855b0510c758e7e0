"""Where models come from: defaults, the local cache (VIRNUCPRO_HOME / --model-dir), and downloads."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from virnucpro.atomic import tmp_path
from virnucpro.errors import ModelError
from virnucpro.io.verified import NOTHING_REMEMBERED, VerifiedFiles, records_in
from virnucpro.models.classifier_registry import record_published
from virnucpro.models.download_errors import describe
from virnucpro.models.hub import resolve_model
from virnucpro.nofollow import create_new

log = logging.getLogger("virnucpro")

DEFAULT_DNABERT = "zhihan1996/DNABERT-S"
DEFAULT_ESM = "facebook/esm2_t36_3B_UR50D"
CLASSIFIER_URL = "https://github.com/Li-Jing-1997/VirNucPro/raw/main/{cs}_model.pth"
DNABERT_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "model.safetensors", "pytorch_model.bin"]
ESM_FILES = ["config.json", "model.safetensors"]


def home_dir(model_dir: Path | None = None) -> Path:
    """Model cache root: --model-dir, else $VIRNUCPRO_HOME, else ~/.cache/virnucpro."""
    home = Path(model_dir) if model_dir is not None else Path(os.environ.get("VIRNUCPRO_HOME") or Path.home() / ".cache"
                                                                / "virnucpro")
    _check_model_dir(home, "--model-dir" if model_dir is not None else "$VIRNUCPRO_HOME or ~/.cache/virnucpro")
    return home


def _check_model_dir(home: Path, given: str) -> None:
    """The model cache must be a directory (or not exist yet), not a file or a dangling link.

    Raises:
        ModelError: naming the path and the fix.
    """
    from virnucpro.errors import ModelError

    for p in (home, *home.parents):
        if p.is_symlink() and not p.exists():
            raise ModelError(f"model cache {str(home)!r} ({given}) is a broken symbolic link at {str(p)!r}: fix it "
                             "or give another --model-dir")
        if p.exists():
            if not p.is_dir():
                raise ModelError(f"model cache {str(home)!r} ({given}) lies at or under the file {str(p)!r}: give a "
                                 "directory as --model-dir")
            return


@dataclass(frozen=True)
class ModelRefs:
    """What the user asked for (ids or paths)."""

    dnabert: str = DEFAULT_DNABERT
    esm: str = DEFAULT_ESM
    classifier: str | None = None
    revision_dnabert: str | None = None
    revision_esm: str | None = None


@dataclass(frozen=True)
class ModelPaths:
    """Resolved local paths."""

    dnabert: Path
    esm: Path
    classifier: Path | None  # None: `extract` (encoders only)
    records: VerifiedFiles = NOTHING_REMEMBERED  # what is known about the weight files (hash, CRC, finiteness)


def resolve_all(refs: ModelRefs, chunk_size: int, home: Path, offline: bool,
                in_download_command: bool = False) -> ModelPaths:
    """Local paths of all three models, downloading what is missing unless offline.

    Raises:
        ModelError: a model is neither local nor obtainable, naming the command that fixes it.
    """
    hub = home / "hub"
    check_published(refs.classifier, chunk_size)  # before 12 GB of encoders are fetched for nothing
    check_local_kinds(refs)
    dnabert = resolve_model(refs.dnabert, revision=refs.revision_dnabert, cache_dir=hub, allow_patterns=DNABERT_FILES,
                            offline=offline, in_download_command=in_download_command, flag="--dnabert DIR")
    esm = _resolve_esm(refs, hub, offline, in_download_command)
    return ModelPaths(dnabert, esm, classifier_path(refs.classifier, chunk_size, home, offline, in_download_command),
                      records_in(home))


def resolve_encoders(refs: ModelRefs, home: Path, offline: bool) -> tuple[Path, Path]:
    """Local paths of DNABERT-S and ESM-2 only (training needs no classifier)."""
    check_local_kinds(refs)
    dnabert = resolve_model(refs.dnabert, revision=refs.revision_dnabert, cache_dir=home / "hub",
                            allow_patterns=DNABERT_FILES, offline=offline, flag="--dnabert DIR")
    return dnabert, _resolve_esm(refs, home / "hub", offline, False)


def _resolve_esm(refs: ModelRefs, hub: Path, offline: bool, in_download_command: bool) -> Path:
    path = resolve_model(refs.esm, revision=refs.revision_esm, cache_dir=hub, allow_patterns=ESM_FILES,
                         offline=offline, in_download_command=in_download_command, flag="--esm DIR")
    if path.is_dir() and not any((path / n).exists() for n in ("model.safetensors", "pytorch_model.bin")):
        path = resolve_model(refs.esm, revision=refs.revision_esm, cache_dir=hub, offline=offline,
                             allow_patterns=["config.json", "pytorch_model.bin"],
                             in_download_command=in_download_command, flag="--esm DIR")
    return path


def classifier_path(ref: str | None, chunk_size: int, home: Path, offline: bool,
                    in_download_command: bool = False) -> Path:
    """--classifier if given, else the published model for 300/500 bp chunks from the cache (fetched once)."""
    if ref is not None:
        p = Path(ref).expanduser()
        if p.is_dir():
            raise ModelError(f"classifier {ref!r} is a directory: give the classifier file (.pth or .safetensors)")
        if not p.is_file():
            raise ModelError(f"classifier {ref!r} does not exist: check --classifier")
        return p
    check_published(ref, chunk_size)
    target = home / "classifiers" / f"{chunk_size}_model.pth"
    if target.exists():
        return target
    if in_download_command and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelError("downloads are switched off (HF_HUB_OFFLINE=1): unset HF_HUB_OFFLINE and try again")
    if offline or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelError(f"classifier {target} is not cached and downloads are off: run `virnucpro download "
                         f"--chunk-size {chunk_size}` on a machine with internet access (same --model-dir), or pass "
                         "a local copy with --classifier FILE")
    return download_classifier(chunk_size, target, in_download_command)


def check_local_kinds(refs: ModelRefs) -> None:
    """A local model directory given to the other encoder's flag is named before anything is downloaded.

    Raises:
        ModelError: from `config_checks.read_config`, naming what the directory holds (or a config it cannot read).
    """
    from virnucpro.models.config_checks import read_config

    for ref, what in ((refs.dnabert, "DNABERT-S"), (refs.esm, "ESM-2")):
        config = Path(ref).expanduser() / "config.json"
        if config.is_file():
            read_config(config, what)


def check_published(ref: str | None, chunk_size: int) -> None:
    """Without --classifier, only 300 and 500 bp have a published classifier.

    Raises:
        ModelError: naming the chunk size and the flag that fixes it.
    """
    if ref is None and chunk_size not in (300, 500):
        raise ModelError(f"no published classifier for --chunk-size {chunk_size} (only 300 and 500): "
                         "pass --classifier PATH trained for this chunk size")


def classifier_url(chunk_size: int) -> str:
    """Where the published classifier comes from; VIRNUCPRO_CLASSIFIER_URL (with `{cs}`) points at a mirror."""
    return (os.environ.get("VIRNUCPRO_CLASSIFIER_URL") or CLASSIFIER_URL).format(cs=chunk_size)


def download_classifier(chunk_size: int, target: Path, in_download_command: bool = False) -> Path:
    """Fetch `{cs}_model.pth` from the original repository into the cache; logs its sha256.

    Raises:
        ModelError: naming the real cause (DNS, refused, HTTP status, disk full) and its fix.
    """
    import urllib.request

    url = classifier_url(chunk_size)
    tmp = tmp_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=60) as resp, create_new(tmp) as fh:
            h = hashlib.sha256()
            while block := resp.read(1 << 20):
                h.update(block)
                fh.write(block)
        os.replace(tmp, target)
        record_published(target.parent, h.hexdigest(), chunk_size)
    except (OSError, ValueError) as exc:  # URLError/HTTPError are OSErrors; ValueError: a malformed URL
        tmp.unlink(missing_ok=True)
        cause, fix = describe(exc, in_download_command, "--classifier FILE")
        raise ModelError(f"could not download {url}: {cause}: {fix}") from None
    log.info("downloaded %s (sha256 %s)", target, h.hexdigest())
    return target
