"""`virnucpro extract`: the same embeddings as predict --keep-intermediate, loadable in one call, resumable,
the same on several workers, no classifier needed."""

from __future__ import annotations

import json

import numpy as np
from safetensors.numpy import load_file

from conftest import one_error_line


def _encoder_args(model_args):
    return [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]


def test_extract_equals_keep_intermediate_and_loads_in_one_call(tmp_path, run_cli, model_args, reads_3k):
    code, _, err = run_cli("extract", reads_3k, "-o", tmp_path / "ex", *_encoder_args(model_args), "--device", "cpu",
                           "--unit-frames", 1000, "-q")
    assert code == 0, err
    code, _, err = run_cli("predict", reads_3k, "-o", tmp_path / "pr", *model_args, "--device", "cpu",
                           "--unit-frames", 1000, "--keep-intermediate", "-q")
    assert code == 0, err
    index = json.loads((tmp_path / "ex" / "embeddings" / "index.json").read_text())
    assert len(index["parts"]) > 1 and index["frames"] == sum(s["frames"] for s in index["parts"])
    for shard in index["parts"]:
        a = load_file(str(tmp_path / "ex" / "embeddings" / shard["file"]))
        b = load_file(str(tmp_path / "pr" / "embeddings" / shard["file"]))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "ex" / "prediction_results.txt").exists() and not (tmp_path / "ex" / "work_units").exists()

    from virnucpro.commands.extract import load

    ids, dna, esm = load(tmp_path / "ex")
    frames = (tmp_path / "pr" / "prediction_results.txt").read_text().splitlines()[1:]
    assert ids == [f.split("\t")[0] for f in frames] and dna.shape[0] == esm.shape[0] == len(ids)
    info = json.loads((tmp_path / "ex" / "run_info.json").read_text())
    assert info["status"] == "complete" and "classifier" not in info["models"]


def test_extract_resumes_a_damaged_shard_and_two_workers_agree(tmp_path, run_cli, model_args, reads_3k):
    args = [*_encoder_args(model_args), "--unit-frames", 1000, "-q"]
    assert run_cli("extract", reads_3k, "-o", tmp_path / "one", "--device", "cpu", "--threads", 1, *args)[0] == 0
    assert run_cli("extract", reads_3k, "-o", tmp_path / "two", "--device", "cpu,cpu", "--threads", 2, *args)[0] == 0
    shard = tmp_path / "one" / "embeddings" / "unit_0000001.safetensors"
    before = shard.read_bytes()
    shard.write_bytes(before[:100])  # truncated by a crash or a full disk
    code, _, err = run_cli("extract", reads_3k, "-o", tmp_path / "one", "--device", "cpu", "--threads", 1, *args)
    assert code == 0, err
    assert load_file(str(shard)).keys() == {"dnabert_s", "esm2"}
    from virnucpro.commands.extract import load

    a, b = load(tmp_path / "one"), load(tmp_path / "two")
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


def test_extract_and_predict_do_not_share_a_directory(tmp_path, run_cli, model_args, golden_dir):
    assert run_cli("extract", golden_dir / "input.fa", "-o", tmp_path / "d", *_encoder_args(model_args),
                   "--device", "cpu", "-q")[0] == 0
    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / "d", *model_args, "--device", "cpu")
    assert code == 2 and "never replaces another command's run" in one_error_line(err)
