"""`virnucpro predict` end to end on tiny models: exact vs a one-at-a-time reference, outputs, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import GOLDEN
from reference_pipeline import fair_esm_model, reference_predict
from virnucpro.models.classifier import load_classifier
from virnucpro.models.loaders import load_dnabert
from virnucpro.io.seqio import read_batches
from virnucpro.testing.factory import TINY_DNABERT, TINY_ESM


def _records(n: int = 48):
    b = next(read_batches(str(GOLDEN / "input.fa"), 10_000))
    idx = [i for i in range(len(b.ids)) if i % 8 == 0 or len(b.seqs[i]) > 400][:n]
    return [(b.ids[i], b.seqs[i]) for i in idx]


def _read_table(path):
    lines = path.read_text().splitlines()
    return lines[0], [ln.split("\t") for ln in lines[1:]]


@pytest.mark.parametrize("cs", [300, 500])
def test_equals_reference_pipeline(cs, tmp_path, run_cli, model_args, tiny_models):
    pytest.importorskip("esm")
    recs = _records()
    src = tmp_path / "in.fa"
    src.write_text("".join(f">{i} some description\n{s}\n" for i, s in recs))
    code, _, err = run_cli("predict", src, "-o", tmp_path / "out", "--chunk-size", cs, *model_args,
                           "--unit-frames", 64)
    assert code == 0, err

    sd = torch.load(tiny_models.dnabert_dir / "pytorch_model.bin")
    _, tok = load_dnabert(tiny_models.dnabert_dir)
    esm_model, alphabet = fair_esm_model(TINY_ESM, seed=0)
    rows, consensus = reference_predict(recs, cs, sd, TINY_DNABERT, tok, esm_model, alphabet,
                                        load_classifier(tiny_models.classifier))
    assert len(rows) > 50 and {r[1] for r in rows} == {"virus", "others"}  # a meaningful mix

    header, got = _read_table(tmp_path / "out" / "prediction_results.txt")
    assert header == "Sequence_ID\tPrediction\tscore1\tscore2"
    assert [g[0] for g in got] == [r[0] for r in rows]  # same IDs, same order
    assert [g[1] for g in got] == [r[1] for r in rows]
    for g, r in zip(got, rows):
        assert abs(float(g[2]) - r[2]) <= 1e-5 and abs(float(g[3]) - r[3]) <= 1e-5
        assert g[2] == str(np.float32(g[2])) and g[3] == str(np.float32(g[3]))  # float32 shortest round-trip

    header, got_c = _read_table(tmp_path / "out" / "prediction_results_highestscore.csv")
    assert header == "Modified_ID\tIs_Virus"
    assert [g[0] for g in got_c] == sorted(consensus)  # plain string order: x_chunk_10 before x_chunk_2
    assert {g[0]: g[1] == "True" for g in got_c} == consensus


def test_sequences_tsv_and_run_info(tmp_path, run_cli, model_args):
    src = tmp_path / "in.fa"
    src.write_text("".join(f">{i}\n{s}\n" for i, s in _records(20)))
    assert run_cli("predict", src, "-o", tmp_path / "o", *model_args)[0] == 0
    header, rows = _read_table(tmp_path / "o" / "sequences.tsv")
    assert header.split("\t")[0] == "seq_id" and len(rows) == 20
    for r in rows:
        assert r[-1] in {"virus", "others", "no_frames"}
    info = json.loads((tmp_path / "o" / "run_info.json").read_text())
    assert info["status"] == "complete" and info["precision"] == "fp32" and info["device"] == "cpu"
    assert info["counts"]["records"] == 20 and len(info["input"]["sha256"]) == 64
    assert set(info["models"]) == {"dnabert", "esm", "classifier"}
    assert all(len(h) == 64 for m in info["models"].values() for h in m["sha256"].values())
    assert {"embed", "load_models", "scan", "assemble", "total"} <= set(info["seconds"])
    parts = sum(v for k, v in info["seconds"].items() if k != "total")
    assert abs(parts - info["seconds"]["total"]) <= 0.01  # the stages add up to the whole run
    assert not (tmp_path / "o" / "work_units").exists()


def test_keep_intermediate(tmp_path, run_cli, model_args):
    src = GOLDEN / "input.fa"
    assert run_cli("predict", src, "-o", tmp_path / "o", "--keep-intermediate", *model_args)[0] == 0
    o = tmp_path / "o"
    assert (o / "chunks.fa").read_bytes() == (GOLDEN / "chunk500" / "chunked.fa").read_bytes()
    assert (o / "identified_protein.faa").read_bytes() == (GOLDEN / "chunk500" / "identified_protein.faa").read_bytes()
    from safetensors import safe_open

    n = 0
    for f in sorted((o / "embeddings").glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            ids = json.loads(st.metadata()["ids"])
            assert st.get_tensor("esm2").shape == (len(ids), TINY_ESM.embed_dim)
            assert st.get_tensor("dnabert_s").shape == (len(ids), TINY_DNABERT.hidden_size)
            n += len(ids)
    assert n == (o / "identified_protein.faa").read_text().count(">")


@pytest.mark.parametrize("content", ["", ">a\nNNNNNNNNNNNN\n>b\nAC\n"])
def test_empty_or_frameless_input_gives_header_only(content, tmp_path, run_cli, model_args):
    src = tmp_path / "in.fa"
    src.write_text(content)
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args)
    assert code == 0, err
    assert (tmp_path / "o" / "prediction_results.txt").read_text() == "Sequence_ID\tPrediction\tscore1\tscore2\n"
    assert (tmp_path / "o" / "prediction_results_highestscore.csv").read_text() == "Modified_ID\tIs_Virus\n"
    assert len((tmp_path / "o" / "sequences.tsv").read_text().splitlines()) == 1 + content.count(">")


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("virnucpro: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_input_exit_2(tmp_path, run_cli, model_args):
    src = tmp_path / "in.fa"
    src.write_text(">a\nACGT\n>a\nACGT\n")
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args)
    assert code == 2 and "duplicate sequence ID 'a'" in _one_error_line(err)
    assert not (tmp_path / "o" / "prediction_results.txt").exists()
    src.write_text(">a\nACGT\n>b\nACGT\n")  # fixed input: runs without --force
    assert run_cli("predict", src, "-o", tmp_path / "o", *model_args)[0] == 0


def test_missing_model_offline_exit_2(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = tmp_path / "in.fa"
    src.write_text(">a\nACGT\n")
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", "--model-dir", tmp_path / "empty_cache", "--offline")
    assert code == 2 and "virnucpro download" in _one_error_line(err)
    assert not (tmp_path / "o").exists()  # stopped before any work


def test_malicious_classifier_exit_2(tmp_path, run_cli, tiny_models):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save(Evil(), tmp_path / "500_model.pth")
    src = tmp_path / "in.fa"
    src.write_text(">a\nATGAAACCC\n")
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", "--dnabert", tiny_models.dnabert_dir, "--esm",
                           tiny_models.esm_dir, "--classifier", tmp_path / "500_model.pth")
    assert code == 2 and "refusing" in _one_error_line(err)
    assert not marker.exists()


def test_complete_output_not_overwritten(tmp_path, run_cli, model_args):
    src = tmp_path / "in.fa"
    src.write_text(">a\nATGAAACCCGGGTTT\n")
    assert run_cli("predict", src, "-o", tmp_path / "o", *model_args)[0] == 0
    before = (tmp_path / "o" / "run_info.json").read_bytes()
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", *model_args)  # same command: a checked no-op
    assert code == 0 and "already holds this run's results" in err
    assert (tmp_path / "o" / "run_info.json").read_bytes() == before
    code, _, err = run_cli("predict", src, "-o", tmp_path / "o", "--chunk-size", "300", *model_args)
    assert code == 2 and "--force" in _one_error_line(err) and "chunk_size" in err
    assert run_cli("predict", src, "-o", tmp_path / "o", "--force", *model_args)[0] == 0
