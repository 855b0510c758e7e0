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
    """Records of a GenBank file in order, read strictly: a file that is cut short or malformed is refused.

    Raises:
        InputError: no LOCUS line; a record without an ORIGIN sequence or its closing `//`; a malformed
            ORIGIN line; a sequence whose length differs from its LOCUS line's; a byte outside ASCII; a
            truncated or corrupt compressed file.
    """
    import xopen

    from virnucpro.io.end_marker import check_end_marker, checker_for

    shown = repr(path if len(path) <= 80 else "..." + path[-77:])
    check_end_marker(path, shown)
    no = 0
    try:
        with xopen.xopen(path, "rb") as fh:
            rec: _Builder | None = None
            for no, raw in enumerate(fh, 1):
                line = _ascii_line(raw, no, shown)
                if line.startswith("LOCUS"):
                    if rec is not None:
                        raise InputError(f"GenBank record {rec.id!r} in {shown} has no closing '//' before the LOCUS "
                                         f"line {no}: the file is damaged; fix or re-download it")
                    rec = _Builder(line, no)
                elif rec is None:
                    if line.strip():
                        raise InputError(f"{shown} is not a GenBank file (line {no} comes before any LOCUS line or "
                                         "after a record's '//'): give GenBank (.gbk/.gbff) or FASTA")
                elif line.startswith("//"):
                    yield rec.finish(shown)
                    rec = None
                else:
                    rec.add(line, no, shown)
    except InputError:
        raise
    except (EOFError, OSError, ValueError) as exc:  # decompressor failures (zlib, lzma, bz2, zstd)
        raise InputError(f"{shown} is truncated or corrupt as a compressed file ({exc}; after line {no}): "
                         f"re-download or re-compress it (check with `{checker_for(path)}`)") from None
    if rec is not None:
        raise InputError(f"GenBank record {rec.id!r} in {shown} ends without its closing '//': the file is cut short; "
                         "re-download it")


def _ascii_line(raw: bytes, no: int, shown: str) -> str:
    try:
        return raw.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(f"{shown} line {no} has a byte outside ASCII: GenBank files are ASCII; fix or re-download "
                         "the file") from None


def _locus(line: str, no: int) -> tuple[str, int | None]:
    """The LOCUS line's name and its sequence length (the number before 'bp'/'aa'), if given."""
    words = line.split()
    name = words[1] if len(words) > 1 else f"record_{no}"
    for k in range(2, len(words) - 1):
        if words[k + 1] in ("bp", "aa") and words[k].isdigit():
            return name, int(words[k])
    return name, None


class _Builder:
    """State while reading one record's lines."""

    def __init__(self, locus_line: str, no: int) -> None:
        self.id, self.length = _locus(locus_line, no)
        self.locus_no = no
        self.section = ""
        self.seq_parts: list[str] = []
        self.translations: list[str] = []
        self.in_cds = False
        self.open_translation: list[str] | None = None

    def add(self, line: str, no: int, shown: str) -> None:
        if line[:1] != " ":  # a section keyword (FEATURES, ORIGIN, VERSION, ...)
            self.section = line.split()[0] if line.strip() else self.section
            if self.section == "VERSION" and len(line.split()) > 1:
                self.id = line.split()[1]
            return
        if self.section == "ORIGIN":
            self._origin_line(line, no, shown)
        elif self.section == "FEATURES":
            self._feature_line(line)

    def _origin_line(self, line: str, no: int, shown: str) -> None:
        """`   61 acgtacgtac gtac...`: the position of its first base, then blocks of letters."""
        words = line.split()
        if not words:
            return
        done = sum(map(len, self.seq_parts))
        if not words[0].isdigit() or int(words[0]) != done + 1 or not all(w.isalpha() for w in words[1:]):
            raise InputError(f"{shown} line {no}: a malformed ORIGIN line in GenBank record {self.id!r} (expected the "
                             f"position {done + 1} then letters): the file is damaged; fix or re-download it")
        self.seq_parts.append("".join(words[1:]))

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

    def finish(self, shown: str) -> GenBankRecord:
        self._close_translation()
        if not self.seq_parts:
            raise InputError(f"GenBank record {self.id!r} in {shown} has no sequence (no ORIGIN section): give the "
                             "full GenBank file, not a summary")
        seq = "".join(self.seq_parts).upper()
        if self.length is not None and self.length != len(seq):
            raise InputError(f"GenBank record {self.id!r} in {shown} has {len(seq)} bases but its LOCUS line (line "
                             f"{self.locus_no}) says {self.length}: the record is damaged; fix or re-download it")
        return GenBankRecord(self.id, seq, self.translations)
