"""regions.tsv against the chunk calls: units built from frame scores by the real scoring functions, then the
region table checked against the unit's own consensus (C) and summary (S) rows."""

from __future__ import annotations

import io

import numpy as np
import pytest

from virnucpro.models.regions import RegionModel
from virnucpro.pipeline.region_table import write_regions
from virnucpro.pipeline.scoring import FrameScores, chunk_calls, consensus_rows, prediction_rows, sequence_rows
from virnucpro.pipeline.workunits import UnitPlan, ids_digest, write_unit
from virnucpro.prep.chunking import chunk_bounds

CS = 300
Chunk = list[tuple[str, float]]  # a chunk's kept frames: (suffix like 'F1', score2); [] = every frame has a stop


def _unit(path, seqs: dict[str, list[Chunk]]) -> None:
    """Commit one unit holding `seqs` (each a list of CS-bp chunks), rows made as the worker makes them."""
    ids, lengths, chunk_record, frame_ids, frame_chunk, score2 = [], [], [], [], [], []
    for r, (sid, chunks) in enumerate(seqs.items()):
        ids.append(sid)
        lengths.append(len(chunks) * CS)
        for k, frames in enumerate(chunks, 1):
            for suffix, s2 in frames:
                frame_ids.append(f"{sid}_chunk_{k}{suffix}")
                frame_chunk.append(len(chunk_record))
                score2.append(s2)
            chunk_record.append(r)
    s2 = np.array(score2, np.float32)
    scores = FrameScores(np.float32(1) - s2, s2)
    frame_chunk, chunk_record = np.array(frame_chunk, np.int64), np.array(chunk_record, np.int64)
    calls = chunk_calls(frame_chunk, scores, len(chunk_record))
    plan = UnitPlan(0, len(frame_ids), len(calls.chunk_index), len(ids), ids_digest(ids))
    write_unit(path, plan, prediction_rows(frame_ids, scores), consensus_rows(frame_ids, frame_chunk, calls),
               sequence_rows(ids, np.array(lengths), chunk_record, calls, frame_chunk, scores))


def _tables(path, model=RegionModel()):
    """(regions rows, {seq: {chunk number: call}}, {seq: verdict}) of a committed unit."""
    out = io.StringIO()
    write_regions([path], out, CS, model)
    calls: dict[str, dict[int, bool]] = {}
    verdicts = {}
    for line in path.read_text().splitlines():
        f = line.split("\t")
        if f[0] == "C":
            sid, k = f[1].rsplit("_chunk_", 1)
            calls.setdefault(sid, {})[int(k)] = f[2] == "True"
        elif f[0] == "S":
            verdicts[f[1]] = f[-1]
    rows = [ln.split("\t") for ln in out.getvalue().splitlines()]
    return [(r[0], int(r[2]), int(r[3]), int(r[5]), int(r[6])) for r in rows], calls, verdicts


def _check_against_calls(regions, calls, seqs, model=RegionModel()) -> None:
    """Every region rests on agreeing chunk calls, and no 1-kb frameless stretch lies inside it."""
    for sid, start, end, n_chunks, n_viral in regions:
        _, starts, ends = chunk_bounds(np.array([len(seqs[sid]) * CS]), CS)
        inside = [k for k in range(1, len(starts) + 1) if starts[k - 1] + 1 >= start and ends[k - 1] <= end]
        with_frames = [k for k in inside if k in calls[sid]]
        viral = [k for k in with_frames if calls[sid][k]]
        assert n_chunks == len(inside) and n_viral == len(viral), (sid, start, end)
        assert n_viral >= 2 and 2 * n_viral >= len(with_frames), (sid, start, end, n_viral, len(with_frames))
        assert inside[0] in calls[sid] and inside[-1] in calls[sid]  # ends are chunks with frames
        run = 0
        for k in inside:
            run = 0 if k in calls[sid] else run + 1
            assert run * CS < model.gap_bp, (sid, start, end, k)


def _host(n):
    return [[("F1", 0.05)]] * n


def _viral(n):
    return [[("F2", 0.95)]] * n


def test_a_sequence_whose_chunks_are_all_called_others_has_no_region(tmp_path):
    """Each chunk has a fairly viral frame (0.8) and a more confident non-viral one (score1 0.95): every chunk call
    is others, so no region, whatever the virus scores alone say."""
    seqs = {"others_6kb": [[("F1", 0.8), ("R1", 0.05)]] * 20, "viral": _viral(20)}
    _unit(tmp_path / "u.tsv", seqs)
    regions, calls, verdicts = _tables(tmp_path / "u.tsv")
    assert verdicts == {"others_6kb": "others", "viral": "virus"} and not any(calls["others_6kb"].values())
    assert [r[0] for r in regions] == ["viral"]
    _check_against_calls(regions, calls, seqs)


def test_two_viral_chunks_across_stretches_without_frames_are_no_region(tmp_path):
    """Two viral chunks 8.4 kb apart, every frame between them stopped (or an N run): not a region."""
    seqs = {"apart": [*_viral(1), *[[]] * 28, *_viral(1)], "apart_host": [*_host(3), *_viral(1), *[[]] * 28,
                                                                           *_viral(1), *_host(3)]}
    _unit(tmp_path / "u.tsv", seqs)
    regions, calls, _ = _tables(tmp_path / "u.tsv", RegionModel(min_length=1))
    assert regions == []


def test_a_long_frameless_stretch_splits_a_region_and_a_short_one_does_not(tmp_path):
    """1 kb of chunks without frames (4 chunks at size 300) ends a region; 3 chunks (a spacer) do not."""
    seqs = {"split": [*_host(10), *_viral(10), *[[]] * 10, *_viral(10), *_host(10)],
            "split4": [*_viral(10), *[[]] * 4, *_viral(10)],
            "short_gap": [*_host(10), *_viral(10), [], [], [], *_viral(10), *_host(10)]}
    _unit(tmp_path / "u.tsv", seqs)
    regions, calls, _ = _tables(tmp_path / "u.tsv")
    assert [(r[0], r[1], r[2]) for r in regions] == [("split", 3001, 6000), ("split", 9001, 12000),
                                                     ("split4", 1, 3000), ("split4", 4201, 7200),
                                                     ("short_gap", 3001, 9900)]
    _check_against_calls(regions, calls, seqs)


def test_a_region_inside_a_host_contig_keeps_its_place_when_the_sequence_verdict_is_others(tmp_path):
    """A provirus: a third of the contig viral, so the sequence is 'others' as a whole, and the region says where."""
    seqs = {"provirus": [*_host(20), *_viral(10), *_host(20)]}
    _unit(tmp_path / "u.tsv", seqs)
    regions, calls, verdicts = _tables(tmp_path / "u.tsv")
    assert verdicts == {"provirus": "others"} and [(r[1], r[2], r[4]) for r in regions] == [(6001, 9000, 10)]


@pytest.mark.parametrize("seed", range(4))
def test_random_multi_frame_tracks_give_regions_that_agree_with_the_calls(tmp_path, seed):
    rng = np.random.default_rng(seed)
    seqs = {}
    for i in range(12):
        n = int(rng.integers(4, 60))
        p_viral = rng.uniform(0, 1)
        chunks = []
        for _ in range(n):
            k = int(rng.choice([0, 1, 1, 2, 3]))  # kept frames in this chunk
            lo = 0.5 if rng.uniform() < p_viral else 0.0
            chunks.append([(sfx, float(rng.uniform(lo, lo + 0.5))) for sfx in ["F1", "F3", "R2"][:k]])
        seqs[f"s{i}"] = chunks
    _unit(tmp_path / "u.tsv", seqs)
    regions, calls, verdicts = _tables(tmp_path / "u.tsv", RegionModel(min_length=1))
    _check_against_calls(regions, calls, seqs)
    for sid in seqs:
        if sum(calls.get(sid, {}).values()) < 2:
            assert sid not in {r[0] for r in regions}
