"""Synthetic annotated genomes written as GenBank flat files (for the training tests)."""

from __future__ import annotations

import random
from pathlib import Path

from virnucpro.prep.reference import CODONS as CODON_TABLE

_STOPS = {"TAA", "TAG", "TGA"}


def random_cds(rng: random.Random, n_codons: int, gc: float) -> str:
    """ATG + stop-free codons drawn with base composition `gc` + a stop codon."""
    def base():
        return rng.choice("GC") if rng.random() < gc else rng.choice("AT")

    codons = ["ATG"]
    while len(codons) < n_codons:
        c = base() + base() + base()
        if c not in _STOPS:
            codons.append(c)
    return "".join(codons) + "TAA"


def translate(cds: str) -> str:
    return "".join(CODON_TABLE[cds[i:i + 3]] for i in range(0, len(cds) - 3, 3))


def write_genbank(path: Path, n_records: int, gc: float, seed: int, prefix: str, with_translations: bool = True,
                  genes: int = 3) -> None:
    """Records of `genes` genes (forward strand) separated by short spacers, each CDS annotated."""
    rng = random.Random(seed)
    out = []
    for r in range(n_records):
        seq, feats = "", []
        for _ in range(genes):
            spacer = "".join(rng.choice("ACGT") for _ in range(rng.randint(20, 60)))
            cds = random_cds(rng, rng.randint(250, 450), gc)
            start = len(seq) + len(spacer) + 1
            seq += spacer + cds
            feats.append((start, len(seq), translate(cds)))
        out.append(_record(f"{prefix}{r}", seq, feats, with_translations))
    Path(path).write_text("".join(out))


def _record(name: str, seq: str, feats: list, with_translations: bool) -> str:
    lines = [f"LOCUS       {name:<16} {len(seq)} bp    DNA     linear   SYN 01-DEC-2026",
             f"DEFINITION  synthetic {name}.", f"ACCESSION   {name}", f"VERSION     {name}.1", "FEATURES             Location/Qualifiers",
             f"     source          1..{len(seq)}"]
    for start, end, prot in feats:
        lines.append(f"     CDS             {start}..{end}")
        lines.append('                     /codon_start=1')
        if with_translations:
            text = f'/translation="{prot}"'
            lines += ["                     " + text[i:i + 58] for i in range(0, len(text), 58)]
    lines.append("ORIGIN")
    for i in range(0, len(seq), 60):
        block = " ".join(seq[j:j + 10].lower() for j in range(i, min(i + 60, len(seq)), 10))
        lines.append(f"{i + 1:>9} {block}")
    lines.append("//")
    return "\n".join(lines) + "\n"
