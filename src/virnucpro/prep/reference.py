"""Plain per-codon implementation of the preparation rules: the specification that the vectorised
code is tested and benchmarked against (slow by design; never used by the pipeline)."""

from __future__ import annotations

CODONS = {
    a + b + c: aa
    for (a, b, c), aa in zip(
        ((x, y, z) for x in "TCAG" for y in "TCAG" for z in "TCAG"),
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
    )
}
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def chunks_loop(length: int, cs: int) -> list[tuple[int, int]]:
    """The original's chunk walk: step cs, shifting back by the spread-out overlap."""
    n = -(-length // cs)
    repeat = n * cs - length
    low = repeat // n
    extra = repeat - low * (n - 1)
    shifts = ([low + 1] * extra + [low] * (n - 1 - extra) + [0])[:n]
    out, move = [], 0
    for i, a in enumerate(range(0, length, cs)):
        s = a - move if a > 1 else a
        out.append((s, min(s + cs, length)))
        move += shifts[i]
    return out


def translate(seq: str) -> str:
    """Codon by codon; codons with anything but ACGT translate to nothing."""
    return "".join(CODONS.get(seq[i:i + 3], "") for i in range(0, len(seq) - 2, 3))


def frames(chunk_id: str, chunk: str) -> list[tuple[str, str, str]]:
    """(frame_id, nucleotide slice, protein) of the kept frames of one chunk."""
    s = chunk.upper()
    rc = s.translate(_COMPLEMENT)[::-1]
    out = []
    for strand, t in (("F", s), ("R", rc)):
        for n in (1, 2, 3):
            prot = translate(t[n - 1:])
            if prot and "*" not in prot:
                out.append((f"{chunk_id}{strand}{n}", t[n - 1:n + 3 * len(prot)], prot))
    return out


def prepare_records(records: list[tuple[str, str]], cs: int):
    """Yield (chunks, frames) per record: chunks as (chunk_id, seq), frames as above."""
    for rid, seq in records:
        chunks = [(f"{rid}_chunk_{i + 1}", seq[a:b]) for i, (a, b) in enumerate(chunks_loop(len(seq), cs))]
        yield chunks, [f for cid, c in chunks for f in frames(cid, c)]
