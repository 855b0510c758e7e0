"""Round-4 limits: model files checked before the output directory is claimed, non-file inputs bounded,
odd paths and closed stdin answered in one line, the CPU's out-of-memory answered like the GPU's."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.conftest import one_error_line
from virnucpro.errors import ModelError


@pytest.fixture
def models(tiny_models, tmp_path):
    """A private copy of the tiny models, to damage."""
    root = tmp_path / "models"
    shutil.copytree(tiny_models.esm_dir, root / "esm")
    shutil.copytree(tiny_models.dnabert_dir, root / "dnabert")
    shutil.copy(tiny_models.classifier, root / "classifier.pth")
    return root


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "in.fa"
    path.write_text(">a\n" + "ACGTTGCA" * 40 + "\n")
    return path


def _predict(run_cli, models, fasta, out):
    return run_cli("predict", fasta, "-o", out, "--dnabert", models / "dnabert", "--esm", models / "esm",
                   "--classifier", models / "classifier.pth", "--offline", "--device", "cpu")


def _edit_config(path, **changes):
    c = json.loads(path.read_text())
    for k, v in changes.items():
        if v is _DROP:
            c.pop(k)
        else:
            c[k] = v
    path.write_text(json.dumps(c))


_DROP = object()
BAD_VALUES = [("num_hidden_layers", _DROP), ("hidden_size", "48"), ("num_attention_heads", 0),
              ("num_attention_heads", -4), ("num_attention_heads", 5), ("num_hidden_layers", 10 ** 6),
              ("num_hidden_layers", 3), ("num_hidden_layers", 1), ("hidden_size", 10 ** 30), ("num_hidden_layers", 2.0),
              ("num_hidden_layers", True), ("intermediate_size", None), ("layer_norm_eps", "small"),
              ("vocab_size", 10 ** 12), ("hidden_size", [48])]


def _refused_before_claim(run_cli, models, fasta, out, match: str):
    code, _, err = _predict(run_cli, models, fasta, out)
    line = one_error_line(err)
    assert code == 2, err
    assert match in line or match.lower() in line.lower(), line
    assert not (out / "run_info.json").exists() and not (out / "virnucpro.log").exists()
    return line


@pytest.mark.parametrize("key,value", BAD_VALUES, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("model", ["esm", "dnabert"])
def test_bad_config_values_are_refused_before_the_directory_is_claimed(run_cli, models, fasta, tmp_path, model, key,
                                                                       value):
    _edit_config(models / model / "config.json", **{key: value})
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "config.json" if key != "num_hidden_layers" or
                          value in (_DROP, 10 ** 6, 2.0, True) else "layers")


@pytest.mark.parametrize("model", ["esm", "dnabert"])
@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, "[1, 2]", "{", " " * (2 << 20) + "{}",
                                     '{"hidden_size": 1' + "0" * 5000 + "}"], ids=["deep", "list", "cut", "huge",
                                                                                 "digits"])
def test_unreadable_config_files_are_one_line(run_cli, models, fasta, tmp_path, model, content):
    (models / model / "config.json").write_text(content)
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "config.json")


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.int8])
def test_integer_or_bool_weights_are_refused(run_cli, models, fasta, tmp_path, dtype):
    path = models / "dnabert" / "pytorch_model.bin"
    state = torch.load(path, weights_only=True)
    key = next(k for k in state if k.endswith("attention.output.dense.weight"))
    state[key] = state[key].to(dtype)
    torch.save(state, path)
    line = _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "floating-point")
    assert str(dtype).replace("torch.", "") in line
    with pytest.raises(ModelError, match="floating-point"):
        from virnucpro.models.loaders import load_dnabert

        load_dnabert(models / "dnabert")


def test_integer_esm_safetensors_weights_are_refused(run_cli, models, fasta, tmp_path):
    from safetensors.torch import load_file, save_file

    path = models / "esm" / "model.safetensors"
    state = load_file(str(path))
    key = next(k for k in state if k.endswith("fc1.weight") or k.endswith("intermediate.dense.weight"))
    state[key] = state[key].to(torch.int32)
    save_file(state, str(path))
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "floating-point")


def test_weights_with_more_layers_than_the_config_are_refused(run_cli, models, fasta, tmp_path):
    from virnucpro.testing.factory import TINY_ESM, write_esm_hf

    write_esm_hf(tmp_path / "esm3", TINY_ESM.__class__(3, TINY_ESM.embed_dim, TINY_ESM.attention_heads))
    shutil.copy(tmp_path / "esm3" / "model.safetensors", models / "esm" / "model.safetensors")
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "layers")


def test_a_million_layer_config_fails_fast_in_the_loader(models, tmp_path):
    import time

    from virnucpro.models import config_checks
    from virnucpro.models.loaders import load_esm

    _edit_config(models / "esm" / "config.json", num_hidden_layers=10 ** 6)
    old = config_checks.ESM_FIELDS["num_hidden_layers"]
    config_checks.ESM_FIELDS["num_hidden_layers"] = (True, 10 ** 7)  # past the bound: the weight file still decides
    try:
        t0 = time.perf_counter()
        with pytest.raises(ModelError, match="1000000 layers but the weight file holds 2"):
            load_esm(models / "esm")
        assert time.perf_counter() - t0 < 5
    finally:
        config_checks.ESM_FIELDS["num_hidden_layers"] = old


def test_tokenizer_ids_beyond_the_vocabulary_are_refused(run_cli, models, fasta, tmp_path):
    from virnucpro.testing.factory import train_dna_tokenizer

    train_dna_tokenizer(128).save(str(models / "dnabert" / "tokenizer.json"))
    line = _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "tokenizer")
    assert "64" in line


def test_esm_vocabulary_without_the_alphabet_is_refused(run_cli, models, fasta, tmp_path):
    _edit_config(models / "esm" / "config.json", vocab_size=20)
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "vocabulary")


def test_fair_esm_checkpoint_with_bad_heads_is_refused(tmp_path):
    import argparse

    from virnucpro.models.loaders import esm_parts, load_esm
    from virnucpro.testing.factory import write_esm_fair

    path = write_esm_fair(tmp_path / "esm.pt")
    assert esm_parts(path, lazy=True)[0] == esm_parts(path)[0]
    obj = torch.load(path, weights_only=False)
    obj["cfg"]["model"] = argparse.Namespace(**{**vars(obj["cfg"]["model"]), "encoder_attention_heads": 7})
    torch.save(obj, path)
    with pytest.raises(ModelError, match="attention heads"):
        load_esm(path)


def test_classifier_of_another_width_is_refused_before_claim(run_cli, models, fasta, tmp_path):
    from virnucpro.testing.factory import write_legacy_classifier

    write_legacy_classifier(models / "classifier.pth", input_dim=50, cuda_tagged=False)
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "features")
