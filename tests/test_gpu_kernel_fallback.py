"""The kernel chooser never ends in a traceback: models whose head dimension (8) is below the fused kernels'
minimum run predict, extract and train on the GPU with the default kernels (run with `pytest -m gpu`)."""

from __future__ import annotations

import pytest
import torch

from conftest import GOLDEN
from virnucpro.testing.genbank import write_genbank

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_predict_extract_train_on_head_dim_8_models(tmp_path, run_cli, tiny_models, tiny_model_args):
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "p", *tiny_model_args, "--device", "cuda:0")
    assert code == 0, err
    assert "cannot run this model" in err  # the fallback is said in the log
    encoders = [a for a in tiny_model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    code, _, err = run_cli("extract", GOLDEN / "input.fa", "-o", tmp_path / "e", *encoders, "--device", "cuda:0")
    assert code == 0, err
    write_genbank(tmp_path / "v.gbk", 24, gc=0.68, seed=1, prefix="v")
    write_genbank(tmp_path / "o.gbk", 24, gc=0.32, seed=2, prefix="o")
    code, _, err = run_cli("train", "--viral", tmp_path / "v.gbk", "--other", tmp_path / "o.gbk", "--chunk-size", 300,
                           "-o", tmp_path / "t", *encoders, "--device", "cuda:0")
    assert code == 0, err
