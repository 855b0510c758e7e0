"""What virnucpro wrote and later trusts (extract shards, train's feature cache, run_info.json, the tables
report/merge read) is verified against its checksum before reuse: recomputed, or refused in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from conftest import one_error_line
from virnucpro.errors import InputError


def _encoder_args(model_args):
    return [a for a in model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.fixture
def extracted(tmp_path, run_cli, model_args, golden_dir):
    args = ["extract", golden_dir / "input.fa", "-o", tmp_path / "ex", *_encoder_args(model_args), "--device", "cpu",
            "--unit-frames", 48, "-q"]
    code, _, err = run_cli(*args)
    assert code == 0, err
    return tmp_path / "ex", args


@pytest.mark.slow  # runs extract/predict on the tiny models (seconds each on a loaded machine)
def test_extract_rerun_recomputes_a_shard_with_a_flipped_byte(extracted, run_cli):
    from virnucpro.commands.extract import load

    out, args = extracted
    before = load(out)
    shard = sorted((out / "embeddings").glob("unit_*.safetensors"))[1]
    _flip(shard, len(shard.read_bytes()) - 5)
    with pytest.raises(InputError, match=shard.name):
        load(out)
    code, _, err = run_cli(*args)
    assert code == 0, err
    after = load(out)
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and np.array_equal(before[2], after[2])


@pytest.mark.slow  # runs extract/predict on the tiny models (seconds each on a loaded machine)
def test_extract_shard_copied_over_another_is_not_reused(extracted, run_cli):
    from virnucpro.commands.extract import load
    from virnucpro.pipeline.worker import embeddings_file_ok

    out, args = extracted
    shards = sorted((out / "embeddings").glob("unit_*.safetensors"))
    frames = {s["file"]: s["frames"] for s in json.loads((out / "embeddings" / "index.json").read_text())["parts"]}
    shutil.copyfile(shards[0], shards[1])
    assert not embeddings_file_ok(shards[1], frames[shards[0].name])  # other unit index, even with the same rows
    with pytest.raises(InputError, match=shards[1].name):
        load(out)
    assert run_cli(*args)[0] == 0
    load(out)


@pytest.mark.slow  # runs extract/predict on the tiny models (seconds each on a loaded machine)
def test_extract_load_of_an_unfinished_or_foreign_directory_is_one_exception(tmp_path, extracted):
    from virnucpro.commands.extract import load
    from virnucpro.pipeline.run_info import read_info, write_info

    out, _ = extracted
    info = read_info(out / "run_info.json")
    write_info(out / "run_info.json", {**info, "status": "running"})
    with pytest.raises(InputError, match="not a finished"):
        load(out)
    with pytest.raises(InputError, match="run_info.json"):
        load(tmp_path / "nowhere")
    (out / "run_info.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="run_info.json"):
        load(out)


@pytest.fixture
def predicted(tmp_path, run_cli, model_args, golden_dir):
    code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", tmp_path / "pr", *model_args, "--device", "cpu",
                           "-q")
    assert code == 0, err
    return tmp_path / "pr"


@pytest.mark.slow  # runs extract/predict on the tiny models (seconds each on a loaded machine)
@pytest.mark.parametrize("damage", ["cut_predictions", "edited_sequences", "edited_run_info", "run_info_list"])
def test_report_refuses_damaged_tables_or_run_info_in_one_line(predicted, run_cli, damage):
    if damage == "cut_predictions":
        p = predicted / "prediction_results.txt"
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    elif damage == "edited_sequences":
        p = predicted / "sequences.tsv"
        p.write_text(p.read_text().replace("virus", "others", 1).replace("\tothers\n", "\tvirus\n", 1))
    elif damage == "edited_run_info":
        info = json.loads((predicted / "run_info.json").read_text())
        info["counts"]["records"] += 1
        (predicted / "run_info.json").write_text(json.dumps(info))
    else:
        (predicted / "run_info.json").write_text("[]")
    code, _, err = run_cli("report", predicted)
    assert code == 2 and "Traceback" not in err
    assert any(n in one_error_line(err) for n in ("prediction_results.txt", "sequences.tsv", "run_info.json"))


@pytest.mark.slow  # runs extract/predict on the tiny models (seconds each on a loaded machine)
def test_merge_refuses_a_shard_run_info_with_missing_keys(tmp_path, run_cli, model_args, golden_dir):
    from virnucpro.pipeline.run_info import read_info, write_info

    dirs = [tmp_path / f"s{i}" for i in (1, 2)]
    for i, d in enumerate(dirs, 1):
        code, _, err = run_cli("predict", golden_dir / "input.fa", "-o", d, *model_args, "--device", "cpu",
                               "--unit-frames", 48, "--shard", f"{i}/2", "-q")
        assert code == 0, err
    info = read_info(dirs[1] / "run_info.json")
    del info["plan"]
    write_info(dirs[1] / "run_info.json", info)
    code, _, err = run_cli("merge", *dirs, "-o", tmp_path / "m")
    assert code == 2 and "Traceback" not in err and "run_info.json" in one_error_line(err)
    assert not (tmp_path / "m" / "prediction_results.txt").exists()


def test_train_feature_cache_with_flipped_bytes_or_another_inputs_content_is_recomputed(tmp_path):
    from virnucpro.training.cache import load_cached, save_cached

    ids = [f"f{i}" for i in range(6)]
    feats = torch.randn(6, 10)
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_cached(a, "key-a", feats, ids)
    save_cached(b, "key-b", feats + 1, ids)
    assert torch.equal(load_cached(a, "key-a", ids), feats)
    shutil.copyfile(b, a)  # another input's cache in this one's place
    assert load_cached(a, "key-a", ids) is None
    save_cached(a, "key-a", feats, ids)
    _flip(a, len(a.read_bytes()) - 7)
    assert load_cached(a, "key-a", ids) is None
    save_cached(a, "key-a", feats, ids)
    assert load_cached(a, "key-a", ids[:-1] + ["other"]) is None


def test_run_info_that_is_not_an_object_or_edited_is_unreadable(tmp_path):
    from virnucpro.pipeline.run_info import load_info, read_info, write_info

    path = tmp_path / "run_info.json"
    write_info(path, {"status": "complete", "counts": {"frames": 3}})
    assert load_info(path)["counts"]["frames"] == 3
    path.write_text(path.read_text().replace('"frames": 3', '"frames": 4'))
    assert read_info(path) is None
    with pytest.raises(InputError, match="edited"):
        load_info(path)
    for text in ("[1]", "\"x\"", "3", "null"):
        path.write_text(text)
        with pytest.raises(InputError, match="JSON object"):
            load_info(path)
