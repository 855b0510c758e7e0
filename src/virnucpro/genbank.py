"""GenBank flat files (.gbk/.gbff, plain or compressed): each record's ID, sequence and CDS translations.

Only what training needs is read: the LOCUS name (the record ID, as Biopython's `record.name`; the
VERSION accession when present, as `record.id`), the ORIGIN sequence and every CDS feature's
`/translation` qualifier (which may span many lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from virnucpro.errors import InputError

GENBANK_SUFFIXES = (".gb", ".gbk", ".gbff", ".genbank")


@dataclass
class GenBankRecord:
    """One record: its ID, sequence (uppercase) and the protein translations of its CDS features."""

    id: str
    seq: str
    translations: list[str] = field(default_factory=list)


def is_genbank(path: str) -> bool:
    """By name (compression suffixes ignored) or by a first line starting with LOCUS."""
    name = path.lower()
    for z in (".gz", ".bz2", ".xz", ".zst"):
        name = name.removesuffix(z)
    if name.endswith(GENBANK_SUFFIXES):
        return True
    try:
        import xopen

        with xopen.xopen(path, "rb") as fh:
            return fh.read(5) == b"LOCUS"
    except (OSError, EOFError, ValueError):
        return False


def read_genbank(path: str) -> Iterator[GenBankRecord]:
    """Records of a GenBank file in order.

    Raises:
        InputError: no LOCUS line, or a record without an ORIGIN sequence.
    """
    import xopen

    with xopen.xopen(path, "rt") as fh:
        rec: _Builder | None = None
        for no, line in enumerate(fh, 1):
            if line.startswith("LOCUS"):
                rec = _Builder(line.split()[1] if len(line.split()) > 1 else f"record_{no}")
            elif rec is None:
                if line.strip():
                    raise InputError(f"{path!r} is not a GenBank file (line {no} comes before any LOCUS line): give "
                                     "GenBank (.gbk/.gbff) or FASTA")
            elif line.startswith("//"):
                yield rec.finish(path)
                rec = None
            else:
                rec.add(line)
        if rec is not None and rec.seq_parts:
            yield rec.finish(path)


class _Builder:
    """State while reading one record's lines."""

    def __init__(self, name: str) -> None:
        self.id = name
        self.section = ""
        self.seq_parts: list[str] = []
        self.translations: list[str] = []
        self.in_cds = False
        self.open_translation: list[str] | None = None

    def add(self, line: str) -> None:
        if line[:1] != " ":  # a section keyword (FEATURES, ORIGIN, VERSION, ...)
            self.section = line.split()[0] if line.strip() else self.section
            if self.section == "VERSION" and len(line.split()) > 1:
                self.id = line.split()[1]
            return
        if self.section == "ORIGIN":
            self.seq_parts.append("".join(c for c in line if c.isalpha()))
        elif self.section == "FEATURES":
            self._feature_line(line)

    def _feature_line(self, line: str) -> None:
        key = line[5:21].strip()
        if key:  # a new feature starts
            self._close_translation()
            self.in_cds = key == "CDS"
            return
        text = line[21:].strip()
        if self.open_translation is not None:
            self.open_translation.append(text)
            if text.endswith('"'):
                self._close_translation()
        elif self.in_cds and text.startswith("/translation="):
            self.open_translation = [text[len("/translation="):]]
            if text.endswith('"') and len(text) > len('/translation="'):
                self._close_translation()

    def _close_translation(self) -> None:
        if self.open_translation is not None:
            self.translations.append("".join(self.open_translation).strip('"').replace(" ", "").upper())
            self.open_translation = None

    def finish(self, path: str) -> GenBankRecord:
        self._close_translation()
        if not self.seq_parts:
            raise InputError(f"GenBank record {self.id!r} in {path!r} has no sequence (no ORIGIN section): give the "
                             "full GenBank file, not a summary")
        return GenBankRecord(self.id, "".join(self.seq_parts).upper(), self.translations)
