"""sha256 of inputs and weight files; a weight file's digest is remembered in its verification record
(`io/verified.py`), so a multi-GB model is hashed once, not on every run."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from virnucpro.io.verified import NOTHING_REMEMBERED, VerifiedFiles, file_key


def sha256_file(path: Path, records: VerifiedFiles = NOTHING_REMEMBERED) -> str:
    """Hex sha256 of a file's bytes; taken from `records` when the file is unchanged since it was hashed."""
    if digest := records.facts(path).get("sha256"):
        return digest
    key = file_key(path) if records.root is not None else []
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            h.update(block)
    digest = h.hexdigest()
    records.remember(path, key, sha256=digest)
    return digest


def sha256_model(path: Path, records: VerifiedFiles = NOTHING_REMEMBERED) -> dict[str, str]:
    """sha256 of a model file, or of each weight/config/tokenizer file of a model directory."""
    if path.is_file():
        return {path.name: sha256_file(path, records)}
    names = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")
    return {n: sha256_file(path / n, records) for n in names if (path / n).exists()}


class HashingReader(io.RawIOBase):
    """A binary file read through this is hashed as it is read; `finish()` reads the rest and gives the sha256 of
    every byte (a decompressor may stop before trailing bytes); `release()` closes the file."""

    def __init__(self, fh) -> None:
        super().__init__()
        self.fh, self.hash = fh, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        if n:
            self.hash.update(memoryview(buffer)[:n])
        return n

    def finish(self) -> str:
        while block := self.fh.read(1 << 20):
            self.hash.update(block)
        return self.hash.hexdigest()

    def release(self) -> None:
        """Close the file itself (closing this reader, as a decompressor does when it ends, leaves the file open
        for `finish`)."""
        self.fh.close()
