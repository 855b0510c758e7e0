"""viral.fa / viral.fq / viral_R1 + viral_R2: the input records called `virus`, in input order, as the file had them.

FASTA records keep their header line (ID and description) and are wrapped at 60 columns; FASTQ records
keep their header line and qualities; BAM reads are written as `samtools fastq` writes them (qualities
+33, a read stored reverse (flag 16) reverse-complemented). With `--paired`, every pair with at least one
`virus` mate goes to viral_R1 and viral_R2 with both mates under their own names (Kraken2's
`--classified-out` convention), so an assembler keeps the pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from virnucpro.io.fasta_out import format_wrapped
from virnucpro.io.source_records import SourceRecord

_COMPLEMENT = str.maketrans("ACGTURYKMBDHVNacgturykmbdhvn=", "TGCAAYRMKVHDBNtgcaayrmkvhdbn=")


def format_record(r: SourceRecord) -> str:
    """One record as its file kind writes it."""
    if r.kind == "fa":
        return format_wrapped([r.header], [r.seq])
    if r.reverse:
        return f"@{r.header}\n{r.seq.translate(_COMPLEMENT)[::-1]}\n+\n{r.qual[::-1]}\n"
    return f"@{r.header}\n{r.seq}\n+\n{r.qual}\n"


def viral_records(stored: Iterator[tuple[str, SourceRecord]], paired: bool) -> Iterator[SourceRecord]:
    """The records the viral files hold, in input order, from the stored (verdict, record) stream.

    With mates, a `virus` mate whose partner was an empty record (skipped by the run, so never stored: reads
    trimmed to nothing) is written with an empty partner named `ID/1` or `ID/2`, so the two files stay in step.
    """
    if not paired:
        yield from (r for verdict, r in stored if verdict == "virus")
        return
    pending: tuple[str, SourceRecord] | None = None
    for verdict, r in stored:
        if pending is not None and r.mate == 2 and r.run_id == pending[1].run_id[:-2] + "/2":
            if "virus" in (pending[0], verdict):
                yield pending[1]
                yield r
            pending = None
            continue
        yield from _with_empty_partner(pending)
        pending = (verdict, r) if r.mate == 1 else None
        if pending is None:
            yield from _with_empty_partner((verdict, r))
    yield from _with_empty_partner(pending)


def _with_empty_partner(stored: tuple[str, SourceRecord] | None) -> Iterator[SourceRecord]:
    """A lone `virus` mate and its empty partner, mate 1 first; nothing for a lone mate of another verdict."""
    if stored is None or stored[0] != "virus":
        return
    r = stored[1]
    other = 3 - r.mate
    partner = r._replace(run_id=r.run_id[:-1] + str(other), header=r.run_id[:-1] + str(other), seq="", qual="",
                         mate=other, reverse=False)
    yield from ((r, partner) if r.mate == 1 else (partner, r))


def write_viral(records: Iterator[SourceRecord], files: dict[str, IO[str]]) -> dict[str, int]:
    """Write each record to its kind+mate's file (`files` keyed 'fa0', 'fq1', ...); records per key."""
    counts = dict.fromkeys(files, 0)
    for r in records:
        key = f"{r.kind}{r.mate}"
        files[key].write(format_record(r))
        counts[key] += 1
    return counts
