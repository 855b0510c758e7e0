"""Bounded argument types for the CLI: every numeric flag has a documented range, checked while parsing.

An argparse type raises ArgumentTypeError, which the parser prints as one line and exits 2; nothing
out of range (a shard count of 10^23, a chunk size that overflows a C integer) reaches a command.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable

# Ranges of the numeric flags: (lowest, highest), inclusive. The README's Usage section quotes them.
CHUNK_SIZE = (3, 100_000)  # bp: a chunk shorter than a codon has no frame; 100 kb is far past the encoders' training
THREADS = (0, 1_000_000)  # 0 = every core this job may use; more than the cores is bounded at run time
WORKER_TIMEOUT = (1, 7 * 24 * 3600)  # seconds: up to a week
BATCH_TOKENS = (1, 1 << 24)  # tokens per ESM-2 batch (DNABERT-S uses 4x)
UNIT_FRAMES = (0, 1 << 24)  # frames per work unit; 0 = automatic
FRAMES = (1, 100_000_000)  # frames to compare / benchmark
READS = (0, 1_000_000_000)  # benchmark reads (0: skip)
SEED = (0, 2**32 - 1)  # numpy's seed range
MAX_EPOCHS = (1, 100_000)
SHARDS = (1, 100_000)  # N of --shard I/N: one cluster job per shard
MIN_REGION_LENGTH = (1, 1_000_000_000)  # bp: shortest viral region in regions.tsv


def int_in(low: int, high: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: an integer with low <= value <= high, else a one-line error naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer") from None
        if not low <= value <= high:
            note = f" ({what})" if what else ""
            raise argparse.ArgumentTypeError(f"{_short(value)} is out of range: use {range_text(low, high)}{note}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    parse.bounds = (low, high)  # the help formatter prints the range (flags.DefaultsOnceFormatter)
    return parse


def range_text(low: int, high: int) -> str:
    """A range as help texts print it: `1-100,000` (thousands separated, so large bounds read at a glance)."""
    return f"{low:,}-{high:,}"


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:10] + "..." + text[-6:] + f" ({len(text)} digits)"


def directory(text: str) -> Path:
    """An argparse type: a directory path that is not empty (`-o "$OUT"` with OUT unset would mean the current
    directory, a place nobody named)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not a directory: give one (an unset shell variable?)")
    check_utf8(text)
    return Path(text)


def check_utf8(text: str) -> None:
    """A directory the tool writes or reads its own files in must have a UTF-8 name: the weight and table
    libraries cannot open other names, and reports and logs show them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(text).decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(f"the path '{shown}' holds bytes that are not UTF-8 text: rename it or choose "
                                         "another directory") from None


directory.__name__ = "directory"
