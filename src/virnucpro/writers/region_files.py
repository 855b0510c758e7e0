"""regions.fa and regions.gff3: the rows of regions.tsv as sequences and as GFF3 features, in row order.

regions.fa: one record per row, `>SEQID|regionN start=S end=E length=L mean_virus_score=X`, the sequence
being the input sequence from S to E (1-based, inclusive) as the run read it. regions.gff3: GFF3 with one
`##sequence-region` line per sequence with regions, then one `viral_sequence` (SO:0001041) feature per row,
score = mean virus score; IDs escaped as GFF3 asks (column 1 outside [a-zA-Z0-9.:^*$@!+_?-|], and
`;=&,%` and control characters in column 9), so IGV, bedtools and GFF3 validators read it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from virnucpro.errors import IntegrityError
from virnucpro.io.fasta_out import format_wrapped
from virnucpro.io.source_records import SourceRecord

SO_TYPE, SO_ID = "viral_sequence", "SO:0001041"
GFF3_HEADER = "##gff-version 3\n"
SOURCE = "virnucpro"
_SEQID_UNSAFE = re.compile(r"[^a-zA-Z0-9.:^*$@!+_?|-]")
_VALUE_UNSAFE = re.compile(r"[\x00-\x1f\x7f%;=&,]")


@dataclass(frozen=True)
class RegionRow:
    """One regions.tsv row, its fields as written there."""

    seq_id: str
    region: str
    start: int
    end: int
    length: str
    n_chunks: str
    n_viral_chunks: str
    mean_virus_score: str

    @classmethod
    def parse(cls, line: str) -> RegionRow:
        f = line.rstrip("\n").split("\t")
        return cls(f[0], f[1], int(f[2]), int(f[3]), *f[4:8])

    @property
    def name(self) -> str:
        return f"{self.seq_id}|region{self.region}"


def region_rows(path: Path) -> Iterator[RegionRow]:
    """The rows of a regions.tsv (header skipped), streamed."""
    with open(path, newline="\n") as fh:
        next(fh, None)
        for line in fh:
            yield RegionRow.parse(line)


def escape_seqid(text: str) -> str:
    """GFF3 column 1: %XX for every character outside [a-zA-Z0-9.:^*$@!+_?-|]."""
    return _SEQID_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def escape_value(text: str) -> str:
    """GFF3 column 9 values: %XX for control characters and ; = & , %."""
    return _VALUE_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", text)


def fasta_record(row: RegionRow, r: SourceRecord) -> str:
    desc = f"start={row.start} end={row.end} length={row.length} mean_virus_score={row.mean_virus_score}"
    return format_wrapped([f"{row.name} {desc}"], [r.seq[row.start - 1:row.end]])


def gff_feature(row: RegionRow) -> str:
    attrs = (f"ID={escape_value(row.name)};Name={escape_value(row.name)};Ontology_term={SO_ID};"
             f"n_chunks={row.n_chunks};n_viral_chunks={row.n_viral_chunks}")
    return (f"{escape_seqid(row.seq_id)}\t{SOURCE}\t{SO_TYPE}\t{row.start}\t{row.end}\t{row.mean_virus_score}\t.\t.\t"
            f"{attrs}\n")


class RegionWriter:
    """Feed the stored records in input order; writes each record's regions.tsv rows to both files."""

    def __init__(self, rows: Iterator[RegionRow], fasta: IO[str], gff: IO[str], scratch: Path,
                 fix: str = "rerun with --force") -> None:
        self.rows, self.fasta, self.gff, self.fix = rows, fasta, gff, fix
        self.head = next(rows, None)
        self.written = 0
        scratch.mkdir(parents=True, exist_ok=True)
        self._features = tempfile.NamedTemporaryFile("w+", dir=scratch, prefix=".features-", suffix=".gff3")
        gff.write(GFF3_HEADER)

    def add(self, r: SourceRecord) -> None:
        if self.head is None or self.head.seq_id != r.run_id:
            return
        self.gff.write(f"##sequence-region {escape_seqid(r.run_id)} 1 {len(r.seq)}\n")
        while self.head is not None and self.head.seq_id == r.run_id:
            if not 1 <= self.head.start <= self.head.end <= len(r.seq):
                raise IntegrityError(f"regions.tsv: {self.head.name} ({self.head.start}-{self.head.end}) lies outside "
                                     f"its {len(r.seq)}-bp sequence: {self.fix}")
            self.fasta.write(fasta_record(self.head, r))
            self._features.write(gff_feature(self.head))
            self.written += 1
            self.head = next(self.rows, None)

    def close(self) -> int:
        """Append the features after the pragmas; returns the regions written.

        Raises:
            IntegrityError: a regions.tsv row names a sequence that was not stored (or not in input order).
        """
        if self.head is not None:
            raise IntegrityError(f"regions.tsv names {self.head.seq_id!r}, whose sequence was not stored: {self.fix}")
        with self._features as fh:
            fh.seek(0)
            shutil.copyfileobj(fh, self.gff, 1 << 20)
        return self.written
