"""Model references: local paths, hub ids from a (pre-filled) cache, offline failures. No downloads."""

from __future__ import annotations

import pytest

from virnucpro.errors import ModelError
from virnucpro.models.hub import resolve_model
from virnucpro.models.loaders import load_esm
from virnucpro.testing.factory import write_esm_hf


def test_local_directory(tmp_path):
    d = write_esm_hf(tmp_path / "esm")
    assert resolve_model(str(d)) == d


def test_missing_local_path(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "missing"))


def test_hub_id_from_cache_offline(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = cache / "models--facebook--esm2_tiny" / "snapshots" / commit
    write_esm_hf(snap)
    (cache / "models--facebook--esm2_tiny" / "refs").mkdir(parents=True)
    (cache / "models--facebook--esm2_tiny" / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = resolve_model("facebook/esm2_tiny", cache_dir=cache, offline=True)
    assert path == snap
    assert load_esm(path).cfg.num_layers == 2


def test_uncached_hub_id_offline_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="virnucpro download"):
        resolve_model("facebook/esm2_t36_3B_UR50D", cache_dir=tmp_path, offline=True)
