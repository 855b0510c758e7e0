"""Training frames, as the original's training mode chose them.

Each record is chunked as in prediction; a chunk with an ambiguous base (N, R, Y, M, K, S, W, H, B, V, D)
is dropped; a frame is kept only if its protein has no stop and occurs inside one of the record's
annotated CDS translations (GenBank `/translation`). FASTA has no annotation: its frames are the
prediction-mode frames (stop-free), and the log and the metrics say so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from virnucpro.errors import InputError
from virnucpro.io.genbank import is_genbank, read_genbank
from virnucpro.prep.prepare import prepare_batch
from virnucpro.io.seqio import RecordBatch, read_inputs

log = logging.getLogger("virnucpro")
AMBIGUOUS = re.compile(r"[NRYMKSWHBVD]")
MIN_FRAMES = 2  # per class: at least one to train on and one that may be held out


@dataclass
class ClassFrames:
    """The kept frames of one class (all its input files), with what selection was used."""

    name: str
    ids: list[str] = field(default_factory=list)
    nucleotides: list[str] = field(default_factory=list)
    proteins: list[str] = field(default_factory=list)
    records: int = 0
    chunks: int = 0
    ambiguous_chunks: int = 0
    selection: dict[str, str] = field(default_factory=dict)  # file -> "annotated CDS" | "prediction-mode"
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # file -> its frames [start, end)


def class_frames(name: str, paths: list[str], chunk_size: int) -> ClassFrames:
    """Frames of every file of one class (`--viral` or `--other`).

    Raises:
        InputError: a file without records, a GenBank file without translations, no usable frame at all.
    """
    out = ClassFrames(name)
    for path in paths:
        n_before, first = out.records, len(out.ids)
        if is_genbank(path):
            _add_genbank(out, path, chunk_size)
        else:
            _add_fasta(out, path, chunk_size)
        out.spans[path] = (first, len(out.ids))
        if out.records == n_before:
            raise InputError(f"--{name} input {path!r} holds no sequences: give a non-empty FASTA or GenBank file")
    if not out.ids:
        raise InputError(f"no usable frame in the --{name} inputs ({out.records} records, {out.chunks} chunks, "
                         f"{out.ambiguous_chunks} with ambiguous bases; frames must be stop-free and, for GenBank, "
                         "inside an annotated CDS): give more or other sequences")
    if len(out.ids) < MIN_FRAMES:
        raise InputError(f"the --{name} inputs give {len(out.ids)} usable frame, too few to train on and hold out "
                         f"(at least {MIN_FRAMES}): give more --{name} sequences")
    return out


def _add_genbank(out: ClassFrames, path: str, chunk_size: int) -> None:
    records = list(read_genbank(path))
    if records and not any(r.translations for r in records):
        raise InputError(f"GenBank file {path!r} has no CDS /translation qualifiers: annotate it (e.g. with "
                         "Prokka or Bakta) or give the sequences as FASTA (prediction-mode frames)")
    out.selection[path] = "annotated CDS"
    for r in records:
        out.records += 1
        _add_record(out, r.id, r.seq, "|".join(r.translations), chunk_size)


def _add_fasta(out: ClassFrames, path: str, chunk_size: int) -> None:
    out.selection[path] = "prediction-mode (no annotation)"
    log.warning("--%s %s is not annotated (FASTA): its frames are the prediction-mode ones (stop-free), not "
                "restricted to CDS as in the original's training mode", out.name, path)
    for batch in read_inputs([path], 4096):
        out.records += len(batch.ids)
        p = prepare_batch(batch, chunk_size)
        out.chunks += len(p.chunk_ids)
        out.ids += p.frame_ids
        out.nucleotides += p.nucleotides
        out.proteins += p.proteins


def _add_record(out: ClassFrames, rid: str, seq: str, cds: str, chunk_size: int) -> None:
    """One annotated record: drop ambiguous chunks, keep frames found inside a CDS translation."""
    if not seq:
        return
    p = prepare_batch(RecordBatch([rid], [seq]), chunk_size)
    out.chunks += len(p.chunk_ids)
    ambiguous = {c for c, s in enumerate(p.chunk_seqs) if AMBIGUOUS.search(s.upper())}
    out.ambiguous_chunks += len(ambiguous)
    for f, c in enumerate(p.frame_chunk.tolist()):
        if c not in ambiguous and p.proteins[f] in cds:
            out.ids.append(p.frame_ids[f])
            out.nucleotides.append(p.nucleotides[f])
            out.proteins.append(p.proteins[f])
