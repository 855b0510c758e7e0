"""The compiled record path (`virnucpro._prep`) equals the numpy path, dnaio's FASTA parser and the reference."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro import compiled
from virnucpro.io.fasta_out import format_prepared
from virnucpro.prep.prepare import prepare_batch
from virnucpro.prep.reference import prepare_records
from virnucpro.io.record_groups import record_id, whole_record_blocks
from virnucpro.io.seqio import RecordBatch, read_batches

ALPHABET = "ACGTacgtNnRYKMSWBDHVUu-*."


@pytest.fixture(scope="module")
def prep():
    mod = compiled.prep()
    if mod is None:
        pytest.fail("virnucpro._prep is not built: reinstall with a C compiler (pip install -e .)")
    return mod


def test_compiled_path_is_built():
    if os.environ.get("VIRNUCPRO_PURE_PYTHON"):
        pytest.skip("compiled path switched off")
    assert compiled.prep() is not None


def test_pure_python_switch(monkeypatch):
    monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    assert compiled.prep() is None


def _compiled_text(prep, ids, seqs, cs):
    bufs = [bytearray() for _ in range(3)]
    *used, n_chunks, n_frames = prep.format_prepared(ids, seqs, cs, *bufs)
    return [bytes(b[:n]).decode() for b, n in zip(bufs, used)], n_chunks, n_frames


def _check_format(prep, seqs, cs):
    ids = [f"s{i}" for i in range(len(seqs))]
    texts, n_chunks, n_frames = _compiled_text(prep, ids, seqs, cs)
    p = prepare_batch(RecordBatch(ids, seqs), cs)
    assert texts == list(format_prepared(p))
    assert (n_chunks, n_frames) == (len(p.chunk_ids), len(p.frame_ids))
    want = [f for _, frames in prepare_records(list(zip(ids, seqs)), cs) for f in frames]
    assert texts[2] == "".join(f">{fid}\n{prot}\n" for fid, _, prot in want)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=400), min_size=1, max_size=8),
       st.sampled_from([1, 2, 3, 5, 61, 300, 500]))
def test_format_matches_numpy_and_reference(prep, seqs, cs):
    _check_format(prep, seqs, cs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ACGT", min_size=100, max_size=1300), min_size=1, max_size=4),
       st.sampled_from([300, 500]))
def test_format_long_acgt(prep, seqs, cs):
    _check_format(prep, seqs, cs)


def test_format_spec_example_and_reuse_of_buffers(prep):
    bufs = [bytearray(b"x" * 10) for _ in range(3)]
    for _ in range(2):  # reused buffers: only the returned lengths count
        *used, _, _ = prep.format_prepared(["x"], ["ATGGCTNNNAAAGGTTTCGCA"], 500, *bufs)
        assert bytes(bufs[2][:used[2]]).startswith(b">x_chunk_1F1\nMAKGFA\n")
        assert bytes(bufs[1][:used[1]]).startswith(b">x_chunk_1F1\nATGGCTNNNAAAGGTTTCG\n")


def test_format_rejects_empty_sequence_and_bad_chunk_size(prep):
    with pytest.raises(ValueError):
        prep.format_prepared(["a"], [""], 500, bytearray(), bytearray(), bytearray())
    with pytest.raises(ValueError):
        prep.format_prepared(["a"], ["ACGT"], 0, bytearray(), bytearray(), bytearray())


# ---- split_fasta vs dnaio's FASTA reader ----

_WS = [" ", "\t", "\x0b", "\x0c", "\x1c", "\x1f"]
_EOL = ["\n", "\r\n", "\r"]


@st.composite
def fasta_text(draw):
    parts = []
    for k in range(draw(st.integers(1, 6))):
        pad = draw(st.sampled_from(["", *_WS])) if k else ""  # the fast path is taken when the file starts with '>'
        name = draw(st.text(alphabet="abcXYZ019_.|:/ \t", max_size=20))
        parts.append(f"{pad}>{name}{draw(st.sampled_from(['', *_WS]))}{draw(st.sampled_from(_EOL))}")
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["seq", "seq", "seq", "blank", "comment"]))
            if kind == "seq":
                line = draw(st.text(alphabet="ACGTNacgt-", min_size=1, max_size=70))
                line = draw(st.sampled_from(["", *_WS])) + line + draw(st.sampled_from(["", *_WS]))
            else:
                line = "" if kind == "blank" else "# " + draw(st.text(alphabet="abc ", max_size=5))
            parts.append(line + draw(st.sampled_from(_EOL)))
    text = "".join(parts)
    return text if draw(st.booleans()) else text.rstrip("\r\n")


def _dnaio_records(data: bytes):
    import dnaio

    with dnaio.open(io.BytesIO(data)) as reader:
        return [(record_id(r.name), r.sequence) for r in reader]


@settings(max_examples=400, deadline=None)
@given(fasta_text())
def test_split_fasta_matches_dnaio(prep, text):
    data = text.encode()
    ids, seqs = prep.split_fasta(data)
    assert list(zip(ids, seqs)) == _dnaio_records(data)


def test_split_fasta_declines_what_dnaio_must_judge(prep):
    assert prep.split_fasta("é>a\nAC\n".encode()) is None  # non-ASCII
    assert prep.split_fasta(b"ACGT\n>a\nAC\n") is None  # text before the first header
    assert prep.split_fasta(b"") == ([], [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=1, max_size=12), st.integers(1, 64))
def testwhole_record_blocks(lengths, block):
    data = b"".join(b">r%d d\n%s\n" % (i, b"ACGT" * n) for i, n in enumerate(lengths))
    blocks = list(whole_record_blocks(io.BytesIO(data), block))
    assert b"".join(blocks) == data
    assert all(b.startswith(b">") for b in blocks)


def test_read_batches_same_on_both_paths(tmp_path, monkeypatch):
    recs = [(f"r{i} desc", ("ACGTN" * (i % 50 + 1)) * (300 if i == 7 else 1)) for i in range(500)]
    text = "".join(f">{h}\n" + "\n".join(s[j:j + 60] for j in range(0, len(s), 60)) + "\n" for h, s in recs)
    path = tmp_path / "x.fa"
    path.write_text(text)

    def read():
        return [(b.ids, b.seqs) for b in read_batches(str(path), 64)]

    fast = read()
    monkeypatch.setenv("VIRNUCPRO_PURE_PYTHON", "1")
    assert read() == fast
    assert sum(len(i) for i, _ in fast) == 500 and all(len(i) == 64 for i, _ in fast[:-1])


def test_non_ascii_block_falls_back_to_dnaio_error(tmp_path, run_cli):
    path = tmp_path / "x.fa"
    path.write_text(">a\nACGT\n>b é\nACGT\n")
    code, _, err = run_cli("prepare", path, "-o", tmp_path / "out")
    assert code == 2 and "not valid FASTA" in err and "ASCII" in err


# ---- IdSet ----

def test_idset_finds_first_repeat(prep):
    s = prep.IdSet()
    assert s.add(["a", "b", "c"]) == -1
    assert s.add(["d", "b", "a"]) == 1
    t = prep.IdSet()
    assert t.add(["x", "y", "x", "y"]) == 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), max_size=30), max_size=6))
def test_idset_matches_python_set(prep, batches):
    s, seen = prep.IdSet(), set()
    for batch in batches:
        want = next((i for i, x in enumerate(batch) if x in seen or x in batch[:i]), -1)
        got = s.add(batch)
        assert got == want
        if got >= 0:
            break
        seen.update(batch)


def test_idset_many_ids(prep):
    s = prep.IdSet()
    ids = [f"read_{i}" for i in range(300_000)]
    assert s.add(ids) == -1
    assert s.add(["read_299999"]) == 0


def test_format_hand_made_cases(prep):
    cs = 300
    cases = ["A", "AC", "ATG", "atggcc" * 60, "N" * 50 + "ATGAAA" * 20, "AUGGCC" * 20, "ATGRYKAAA" * 9,
             "ATG" * 100, "ATG" * 100 + "C", "ATG" * 200 + "C", "TTA" * 3]
    _check_format(prep, cases, cs)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=200),
                min_size=1, max_size=6), st.sampled_from([2, 3, 10, 60, 61, 500]))
def test_format_any_printable_ascii(prep, seqs, cs):
    _check_format(prep, seqs, cs)
