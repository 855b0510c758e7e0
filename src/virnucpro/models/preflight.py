"""Every model file checked before a run claims its output directory: configurations, weight names, shapes
and dtypes (read without their data), tokenizer ids, and the classifier's width against the encoders'."""

from __future__ import annotations

from virnucpro.errors import ModelError
from virnucpro.models.config_checks import check_expected_shapes
from virnucpro.models.store import ModelPaths


def check_model_files(paths: ModelPaths) -> None:
    """The same checks as loading, on shapes only: no weight data is read and no model is built.

    Raises:
        ModelError: the first problem, naming the file and the fix.
    """
    from virnucpro.models import dnabert, esm2
    from virnucpro.models.loaders import dnabert_parts, esm_parts

    _check_readable(paths)
    dna_cfg, state, unexpected, _ = dnabert_parts(paths.dnabert, lazy=True)
    check_expected_shapes(dnabert.state_shapes(dna_cfg), state, unexpected, f"DNABERT weights {paths.dnabert}")
    esm_cfg, state, unexpected = esm_parts(paths.esm, lazy=True)
    check_expected_shapes(esm2.state_shapes(esm_cfg), state, unexpected, f"ESM-2 weights {paths.esm}")
    if paths.classifier is not None:
        _check_classifier_width(paths, dna_cfg.hidden_size + esm_cfg.embed_dim)


def _check_classifier_width(paths: ModelPaths, features: int) -> None:
    from virnucpro.models.classifier import load_classifier

    width = load_classifier(paths.classifier).hidden_layer.in_features
    if width != features:
        raise ModelError(f"classifier {str(paths.classifier)!r} expects {width}-d features but the encoders give "
                         f"{features}: use the classifier trained for these models")


def _check_readable(paths: ModelPaths) -> None:
    """Every model file can be read by us: a permission problem is named as one (the libraries would report a
    missing or corrupt file)."""
    import os

    from virnucpro.errors import describe_os_error

    for root in (paths.dnabert, paths.esm, paths.classifier):
        if root is None:
            continue
        files = [p for p in root.iterdir() if p.is_file()] if root.is_dir() else [root] if root.exists() else []
        for f in files:
            try:
                os.close(os.open(f, os.O_RDONLY | os.O_NONBLOCK))
            except PermissionError as exc:
                raise describe_os_error(exc) from None
