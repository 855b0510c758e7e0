"""Found by the hostile pass on the sequence files: mates trimmed to nothing, piped inputs on a rerun, a user's
directory at an output name, shards run with --no-sequences."""

from __future__ import annotations

import io
import json
from pathlib import Path

from conftest import GOLDEN, one_error_line


def _viral_seq() -> str:
    return (GOLDEN / "input.fa").read_text().split("\n>")[0].split("\n", 1)[1].replace("\n", "")[:300]


def _verdicts(out: Path) -> dict[str, str]:
    rows = [ln.split("\t") for ln in (out / "sequences.tsv").read_text().splitlines()[1:]]
    return {r[0]: r[-1] for r in rows}


def test_a_virus_mate_with_an_empty_partner_is_written_with_an_empty_partner(tmp_path, run_cli, model_args):
    seq = _viral_seq()
    r1 = tmp_path / "m_R1.fq"
    r2 = tmp_path / "m_R2.fq"
    r1.write_text(f"@p1/1\n{seq}\n+\n{'I' * len(seq)}\n@p2/1\n\n+\n\n@p3/1\nACGTACGTAC\n+\nIIIIIIIIII\n")
    r2.write_text(f"@p1/2\n\n+\n\n@p2/2\n{seq}\n+\n{'I' * len(seq)}\n@p3/2\nTTTTGGGGCC\n+\nIIIIIIIIII\n")
    out = tmp_path / "o"
    code, _, err = run_cli("predict", r1, r2, "--paired", "-o", out, *model_args)
    assert code == 0, err
    verdict = _verdicts(out)
    one = (out / "viral_R1.fq").read_text().split("\n")
    two = (out / "viral_R2.fq").read_text().split("\n")
    assert len(one) == len(two)  # the two files stay in step
    names1, names2 = one[0::4][:-1], two[0::4][:-1]
    assert [n[1:].split("/")[0] for n in names1] == [n[1:].split("/")[0] for n in names2]
    if verdict.get("p1/1") == "virus":
        assert "@p1/1" in names1 and "@p1/2" in names2 and two[names2.index("@p1/2") * 4 + 1] == ""


def test_a_rerun_from_a_pipe_repairs_damage_and_force_works(tmp_path, run_cli, model_args, monkeypatch):
    import sys

    data = (GOLDEN / "input.fa").read_bytes()

    def piped(*args):
        monkeypatch.setattr(sys, "stdin", type("S", (), {"buffer": io.BytesIO(data), "fileno": lambda self: 0})())
        return run_cli("predict", "-", "-o", tmp_path / "st", *model_args, *args)

    code, _, err = piped()
    assert code == 0, err
    want = (tmp_path / "st" / "viral.fa").read_bytes()
    (tmp_path / "st" / "viral.fa").write_bytes(want[:10])  # damaged: the same command recomputes
    code, _, err = piped()
    assert code == 0, err
    assert (tmp_path / "st" / "viral.fa").read_bytes() == want
    code, _, err = piped("--force")
    assert code == 0, err
    assert (tmp_path / "st" / "viral.fa").read_bytes() == want


def test_a_directory_at_an_output_name_is_never_removed(tmp_path, run_cli, model_args):
    out = tmp_path / "o"
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, *model_args)
    assert code == 0, err
    (out / "viral.fa").unlink()
    (out / "viral.fa" / "sub").mkdir(parents=True)
    (out / "viral.fa" / "sub" / "data.txt").write_text("precious")
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", out, *model_args)
    assert code == 2 and "is a directory where virnucpro writes a file" in one_error_line(err)
    assert (out / "viral.fa" / "sub" / "data.txt").read_text() == "precious"
    fresh = tmp_path / "fresh"
    (fresh / "regions.gff3").mkdir(parents=True)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", fresh, *model_args)
    assert code == 2 and "regions.gff3" in one_error_line(err)
    assert not (fresh / "run_info.json").exists()  # refused before anything is computed


def test_merging_shards_run_without_sequences_says_so(tmp_path, run_cli, model_args):
    for i in (1, 2):
        code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / f"s{i}", "--shard", f"{i}/2",
                               "--no-sequences", *model_args)
        assert code == 0, err
    code, _, err = run_cli("merge", tmp_path / "s1", tmp_path / "s2", "-o", tmp_path / "m")
    assert code == 0, err
    assert "run with --no-sequences" in err
    assert json.loads((tmp_path / "m" / "run_info.json").read_text())["parameters"]["sequences"] is False


def test_a_mistyped_input_is_said_before_any_model_is_looked_up(tmp_path, run_cli):
    code, _, err = run_cli("predict", tmp_path / "nope.fa", "-o", tmp_path / "o", "--offline", "--model-dir",
                           tmp_path / "empty_models")
    assert code == 2 and "does not exist" in one_error_line(err)
    assert not (tmp_path / "o").exists()


def test_an_input_replaced_during_the_run_stops_before_the_sequence_files(tmp_path, run_cli, model_args, monkeypatch):
    """Replaced after its records were classified by a file of the same IDs and lengths: the tables are of the old
    bytes, so writing viral.fa from the new ones would pass every ID and length check. The re-read hashes the file
    and stops, exit 3, with nothing sealed as complete (found by a hostile pass: exit 0 with the new bases)."""
    import virnucpro.writers.sequences as sequences

    fasta = tmp_path / "race.fa"
    fasta.write_text(f">a\n{_viral_seq()}\n>b\n{'ACGT' * 150}\n")
    real = sequences.source_records

    def replaced_first(paths, *args, **kwargs):
        fasta.write_text(fasta.read_text().replace("ACGT", "TGCA"))  # same IDs, same lengths, other bases
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(sequences, "source_records", replaced_first)
    out = tmp_path / "out"
    code, _, err = run_cli("predict", fasta, "-o", out, *model_args)
    line = one_error_line(err)
    assert code == 3 and "changed during the run" in line and "race.fa" in line, line
    assert not (out / "viral.fa").exists() and not (out / "regions.fa").exists()
    assert json.loads((out / "run_info.json").read_text())["status"] != "complete"


def test_a_merge_that_cannot_account_for_a_region_names_the_shards_not_force(tmp_path):
    """`merge --force` reads the same shards again, so it cannot help: the fix named is the shards' predict commands."""
    import pytest

    from virnucpro.errors import IntegrityError
    from virnucpro.io.source_records import SourceRecord
    from virnucpro.writers.region_files import RegionRow, RegionWriter
    from virnucpro.writers.sequences import RERUN_SHARDS

    row = RegionRow("a", "1", 1501, 2500, "1000", "2", "2", "0.9")
    writer = RegionWriter(iter([row]), io.StringIO(), io.StringIO(), tmp_path, RERUN_SHARDS)
    with pytest.raises(IntegrityError, match="rerun the shards' predict commands with --force, then merge again"):
        writer.add(SourceRecord("a", "a", "A", "", "fa", 0))
