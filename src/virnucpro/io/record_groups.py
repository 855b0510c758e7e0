"""(ids, seqs) groups of records from a decompressed stream: dnaio's parser, or for plain-ASCII FASTA the
compiled splitter over whole-record blocks (same records, property-tested against dnaio)."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator

HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a header may hold tabs; no other byte below space
FASTA_HEADER_CONTROL = re.compile(r"[\x00\x02-\x08\x0a-\x1f\x7f]")  # and ^A, which joins NCBI's deflines (nt, nr)
NOT_PHRED33 = re.compile(r"[^!-~]")  # a quality character is '!' (Q0) to '~' (Q93)
SPACE = re.compile(r" ")  # in a FASTQ sequence (FASTA drops it, as Biopython does; other blanks are control bytes)


class BadRecord(ValueError):
    """A record whose header or qualities hold a byte they cannot (`index`: its place in the group)."""

    def __init__(self, index: int, where: str, char: str) -> None:
        super().__init__(f"{char!r} in the {where}")
        self.index, self.where, self.char = index, where, char


def record_id(header: str) -> str:
    """ID = first whitespace-separated token of the header (Biopython's `record.id`)."""
    parts = header.split(None, 1)
    return parts[0] if parts else ""  # an empty header gives an empty ID, as Biopython does


def peekable(raw):
    """The decompressed stream with `peek` (dnaio sniffs the format through it; so does the fast path)."""
    return raw if hasattr(raw, "peek") else io.BufferedReader(raw)


def dnaio_groups(stream, size: int) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, seqs) groups parsed by dnaio (FASTQ, FASTA without the compiled path, anything unusual)."""
    import dnaio

    with dnaio.open(stream) as reader:
        fasta = isinstance(reader, dnaio.FastaReader)
        records = iter(reader)  # one iterator: each iter(reader) would restart from the raw stream
        while recs := list(itertools.islice(records, size)):
            if fasta:
                check_headers(recs)
            else:
                check_fastq(recs)
            seqs = [r.sequence for r in recs]
            yield [record_id(r.name) for r in recs], drop_inner_blanks(seqs) if fasta else seqs


def check_headers(recs) -> None:
    """Refuse a control byte in a FASTA header (it goes back out in viral.fa), as the compiled splitter does."""
    _refuse_first("header", [r.name for r in recs], FASTA_HEADER_CONTROL)


def check_fastq(recs) -> None:
    """Refuse a control byte (a lone CR, ESC, ...) in a header, a space in a sequence (it would count as a base) and
    anything but '!'-'~' in the qualities: they are written back to viral.fq, and a lone CR there reads as a line
    break to the next tool (one regex pass per group and field).

    Raises:
        BadRecord: the first such record of the group.
    """
    _refuse_first("header", [r.name for r in recs], HEADER_CONTROL)
    _refuse_first("sequence", [r.sequence for r in recs], SPACE)
    _refuse_first("qualities", [r.qualities for r in recs], NOT_PHRED33)


def _refuse_first(where: str, texts: list[str], bad: re.Pattern) -> None:
    """Raises BadRecord for the first text `bad` matches (one pass over the joined group when none does)."""
    if bad.search("".join(texts)):
        i = next(k for k, t in enumerate(texts) if bad.search(t))
        raise BadRecord(i, where, bad.search(texts[i]).group())


def drop_inner_blanks(seqs: list[str]) -> list[str]:
    """FASTA sequences without the spaces and tabs inside their lines, as Biopython's parser reads them
    (dnaio keeps them; the compiled splitter drops them too). One scan of the group when there are none."""
    joined = "".join(seqs)
    if " " not in joined and "\t" not in joined:
        return seqs
    return [s.replace(" ", "").replace("\t", "") for s in seqs]


def fasta_groups(stream, prep, block: int = 4 << 20) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, seqs) groups of plain-ASCII FASTA split by the compiled parser, one per block of whole records.

    A block it declines (non-ASCII bytes, text before the first header) goes to dnaio, which parses it
    or raises the error it would have raised on the whole file.
    """
    for text in whole_record_blocks(stream, block):
        try:
            parsed = prep.split_fasta(text)
        except ValueError as exc:  # "header-control:INDEX:BYTE": a control byte in a header line
            parts = str(exc).split(":")
            if len(parts) != 3 or parts[0] != "header-control":
                raise  # any other error stays itself (not an unpacking error)
            raise BadRecord(int(parts[1]), "header", chr(int(parts[2]))) from None
        if parsed is None:
            yield from dnaio_groups(io.BytesIO(text), 1 << 30)
        else:
            yield parsed


def whole_record_blocks(stream, block: int) -> Iterator[bytes | bytearray]:
    """The stream in blocks that each end just before a line starting with '>' (memory: one block + the
    longest record; a record longer than a block is gathered in parts and joined once, and the parts are
    let go before the joined block is handed on)."""
    pending: list[bytes] = []
    while data := stream.read(block):
        at = data.rfind(b"\n>") + 1  # start of the last header line in data; 0 = none found
        if at == 0:
            if data[:1] == b">" and pending and pending[-1].endswith(b"\n"):  # the boundary is at the seam
                text, pending = _joined(pending), [data]
                yield text
            else:
                pending.append(data)
            continue
        pending.append(data[:at])
        text, pending = _joined(pending), [data[at:]]
        del data
        yield text
    if pending:
        yield _joined(pending)


def _joined(parts: list[bytes]) -> bytes | bytearray:
    """The parts as one buffer; the list is emptied as they are copied (one copy alive, not two)."""
    if len(parts) == 1:
        return parts.pop()
    out = bytearray()
    while parts:
        out += parts.pop(0)
    return out


def rebatch(groups: Iterator[tuple[list[str], list[str]]], size: int) -> Iterator[tuple[list[str], list[str]]]:
    """Regroup (ids, seqs) pairs into batches of exactly `size` records (the last one shorter)."""
    ids: list[str] = []
    seqs: list[str] = []
    for gi, gs in groups:
        ids += gi
        seqs += gs
        while len(ids) >= size:
            yield ids[:size], seqs[:size]
            ids, seqs = ids[size:], seqs[size:]
    if ids:
        yield ids, seqs
