"""Verification records of weight files: a file verified once is not read again, and nothing else is trusted."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from virnucpro.io.hashing import sha256_file
from virnucpro.io.verified import VerifiedFiles, file_key, records_in


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    p = tmp_path / "models" / "model.safetensors"
    p.parent.mkdir()
    p.write_bytes(b"A" * 4096)
    return p


def test_a_verified_file_is_not_read_again(weights: Path, tmp_path: Path, monkeypatch) -> None:
    records = records_in(tmp_path / "home")
    assert sha256_file(weights, records) == _digest(weights)
    assert records.facts(weights) == {"sha256": _digest(weights)}
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("the file was read again"))
    assert sha256_file(weights, records) == hashlib.sha256(b"A" * 4096).hexdigest()


def test_a_file_changed_in_place_with_its_mtime_put_back_is_verified_again(weights: Path, tmp_path: Path) -> None:
    """`touch -r` (or os.utime) restores mtime, never ctime: same size, same mtime, new content is still seen."""
    records = records_in(tmp_path / "home")
    sha256_file(weights, records)
    records.remember(weights, file_key(weights), finite="ok")
    before = os.stat(weights)
    time.sleep(0.05)  # a later clock tick for the kernel's ctime
    weights.write_bytes(b"B" * 4096)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(weights)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert records.facts(weights) == {}
    assert sha256_file(weights, records) == _digest(weights) == hashlib.sha256(b"B" * 4096).hexdigest()
    assert "finite" not in records.facts(weights)  # a fact about the old bytes is not carried over


def test_a_replaced_file_is_verified_again(weights: Path, tmp_path: Path) -> None:
    records = records_in(tmp_path / "home")
    sha256_file(weights, records)
    other = weights.with_name("new")
    other.write_bytes(b"C" * 4096)
    os.replace(other, weights)  # another inode under the same name
    assert records.facts(weights) == {}
    assert sha256_file(weights, records) == hashlib.sha256(b"C" * 4096).hexdigest()


def _only_record(records: VerifiedFiles) -> Path:
    (record,) = [p for p in records.root.iterdir() if not p.name.startswith(".")]
    return record


@pytest.mark.parametrize("edit", ["digest", "key", "truncated", "not json", "format"])
def test_an_edited_or_damaged_record_is_not_trusted(weights: Path, tmp_path: Path, edit: str) -> None:
    records = records_in(tmp_path / "home")
    true = sha256_file(weights, records)
    record = _only_record(records)
    text = record.read_text()
    data = json.loads(text)
    if edit == "digest":
        data["facts"]["sha256"] = "0" * 64
    elif edit == "key":
        data["key"][2] += 1
    elif edit == "format":
        data["format"] = 99
    record.write_text(json.dumps(data) if edit in ("digest", "key", "format") else
                      text[: len(text) // 2] if edit == "truncated" else "\x00garbage")
    assert records.facts(weights) == {}
    assert sha256_file(weights, records) == true
    assert records.facts(weights) == {"sha256": true}  # recomputed and recorded again


def test_a_record_about_another_path_is_not_used(weights: Path, tmp_path: Path) -> None:
    records = records_in(tmp_path / "home")
    sha256_file(weights, records)
    record = _only_record(records)
    data = json.loads(record.read_text())
    data["path"] = "/elsewhere"
    record.write_text(json.dumps(data))
    assert records.facts(weights) == {}


def test_a_file_written_while_it_was_checked_is_not_recorded(weights: Path, tmp_path: Path) -> None:
    records = records_in(tmp_path / "home")
    key = file_key(weights)
    time.sleep(0.05)
    weights.write_bytes(b"D" * 4097)
    records.remember(weights, key, sha256="stale")
    assert records.facts(weights) == {}


def test_an_unwritable_cache_only_costs_rechecking(weights: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache directory would be")
    records = records_in(blocker)
    assert sha256_file(weights, records) == _digest(weights)
    assert records.facts(weights) == {}


def _writer(root: str, path: str, n: int, seed: int) -> None:
    records = VerifiedFiles(Path(root))
    for i in range(n):
        records.remember(Path(path), file_key(Path(path)), **{f"w{seed}": str(i), "sha256": "x" * 64})
        records.facts(Path(path))


def test_concurrent_writers_never_leave_a_damaged_record(weights: Path, tmp_path: Path) -> None:
    root = tmp_path / "home" / "verified"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(root), str(weights), 40, s)) for s in range(4)]
    for p in procs:
        p.start()
    seen = 0
    while any(p.is_alive() for p in procs):  # every record a reader sees meanwhile is whole and checked
        seen += bool(VerifiedFiles(root).facts(weights))
    for p in procs:
        p.join()
        assert p.exitcode == 0
    facts = VerifiedFiles(root).facts(weights)
    assert facts["sha256"] == "x" * 64 and any(k.startswith("w") for k in facts)
    assert [p.name for p in root.iterdir()] == [_only_record(VerifiedFiles(root)).name]  # no temporaries left


def test_a_second_load_skips_the_crc_and_finiteness_checks_until_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    import torch

    from virnucpro.errors import ModelError
    from virnucpro.models import loaders, weights as w
    from virnucpro.testing.factory import write_dnabert

    path = write_dnabert(tmp_path / "dnabert")
    records = records_in(tmp_path / "home")
    first, _ = loaders.load_dnabert(path, records=records)
    assert records.facts(path / "pytorch_model.bin").keys() == {"zip_crc", "finite"}
    monkeypatch.setattr(w, "check_zip_crc", lambda p: pytest.fail("CRC checked again"))
    monkeypatch.setattr(w, "_sound", lambda k, t: pytest.fail("finiteness checked again"))
    again, _ = loaders.load_dnabert(path, records=records)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    monkeypatch.undo()
    state = torch.load(path / "pytorch_model.bin", weights_only=True)
    state["embeddings.word_embeddings.weight"][0, 0] = float("nan")
    time.sleep(0.05)
    torch.save(state, path / "pytorch_model.bin")  # a new version of the file: checked again
    with pytest.raises(ModelError, match="word_embeddings.weight.*NaN"):
        loaders.load_dnabert(path, records=records)
