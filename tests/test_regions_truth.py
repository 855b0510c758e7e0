"""regions.tsv against known truth: a classifier trained (`virnucpro train`) on GC-rich 'viral' and AT-rich 'host'
genomes, then `predict` on chimeric 38-kb contigs with 8-kb viral inserts at known junctions."""

from __future__ import annotations

import random

import pytest

from virnucpro.testing.genbank import random_cds, write_genbank

CS = 300
VIRAL_GC, HOST_GC = 0.68, 0.32


def _genome(rng: random.Random, length: int, gc: float) -> str:
    """Back-to-back genes of composition `gc` with short spacers, cut to `length`."""
    parts, n = [], 0
    while n < length:
        part = "".join(rng.choice("ACGT") for _ in range(rng.randint(20, 60))) + random_cds(rng, rng.randint(250, 450), gc)
        parts.append(part)
        n += len(part)
    return "".join(parts)[:length]


def _contig(rng: random.Random, layout: list[tuple[str, int]]) -> tuple[str, list[tuple[int, int]]]:
    """A contig from ('v'|'h', length) pieces; returns it and its viral spans as 1-based inclusive (start, end)."""
    seq, spans = "", []
    for kind, n in layout:
        if kind == "v":
            spans.append((len(seq) + 1, len(seq) + n))
        seq += _genome(rng, n, VIRAL_GC if kind == "v" else HOST_GC)
    return seq, spans


LAYOUTS = {
    "one_insert": [("h", 15_000), ("v", 8_000), ("h", 15_000)],
    "two_inserts": [("h", 5_000), ("v", 8_000), ("h", 12_000), ("v", 8_000), ("h", 5_000)],
    "insert_at_end": [("h", 30_000), ("v", 8_000)],
    "insert_at_start": [("v", 8_000), ("h", 30_000)],
    "pure_host": [("h", 38_000)],
    "pure_viral": [("v", 38_000)],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_args, run_cli_module):
    """A classifier trained at chunk size 300 on viral-like (GC-rich) and host-like (AT-rich) genomes."""
    d = tmp_path_factory.mktemp("truth")
    write_genbank(d / "viral.gbk", 24, gc=VIRAL_GC, seed=1, prefix="vir")
    write_genbank(d / "host.gbk", 24, gc=HOST_GC, seed=2, prefix="hst")
    args = [a for a in tiny_model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    code, _, err = run_cli_module("train", "--viral", d / "viral.gbk", "--other", d / "host.gbk", "--chunk-size", CS,
                                  "-o", d / "clf", *args, "--device", "cpu", "-q", "--seed", "7")
    assert code == 0, err
    return d, [*args, "--classifier", d / "clf" / "classifier.safetensors", "--chunk-size", CS, "--device", "cpu"]


@pytest.fixture(scope="module")
def run_cli_module():
    from virnucpro.cli import main

    def _run(*args):
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
        return code, "", err.getvalue()

    return _run


def _regions(path) -> dict[str, list[tuple[int, int, int]]]:
    """seq_id -> [(start, end, length)] from regions.tsv."""
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["seq_id", "region", "start", "end", "length", "n_chunks", "n_viral_chunks",
                                    "mean_virus_score"]
    out: dict[str, list] = {}
    for ln in lines[1:]:
        f = ln.split("\t")
        out.setdefault(f[0], []).append((int(f[2]), int(f[3]), int(f[4])))
        assert int(f[1]) == len(out[f[0]]) and int(f[4]) == int(f[3]) - int(f[2]) + 1
    return out


@pytest.mark.slow
def test_chimeric_contigs_regions_match_true_junctions_and_shards_merge_to_the_same_table(trained, tmp_path,
                                                                                          run_cli_module):
    d, args = trained
    rng = random.Random(11)
    truth, fasta = {}, []
    for name, layout in LAYOUTS.items():
        seq, spans = _contig(rng, layout)
        truth[name] = (len(seq), spans)
        fasta.append(f">{name}\n{seq}\n")
    src = tmp_path / "chimeras.fa"
    src.write_text("".join(fasta))
    code, _, err = run_cli_module("predict", src, "-o", tmp_path / "one", *args, "-q")
    assert code == 0, err
    found = _regions(tmp_path / "one" / "regions.tsv")
    print({n: (truth[n][1], found.get(n, [])) for n in LAYOUTS})  # truth and found, for -s
    assert list(found) == [n for n in LAYOUTS if truth[n][1]]  # input order; pure host gives no region
    for name, (length, spans) in truth.items():
        if name == "pure_viral":
            [(a, b, n)] = found[name]
            assert n >= 0.9 * length, found[name]
            continue
        assert len(found.get(name, [])) == len(spans), (name, found.get(name))
        for (a, b, _), (ta, tb) in zip(found.get(name, []), spans):
            assert abs(a - ta) <= 2 * CS and abs(b - tb) <= 2 * CS, (name, (a, b), (ta, tb))

    for i in (1, 2):
        code, _, err = run_cli_module("predict", src, "-o", tmp_path / f"s{i}", *args, "-q", "--unit-frames", 400,
                                      "--shard", f"{i}/2")
        assert code == 0, err
    code, _, err = run_cli_module("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "merged", "-q")
    assert code == 0, err
    assert (tmp_path / "merged" / "regions.tsv").read_bytes() == (tmp_path / "one" / "regions.tsv").read_bytes()
