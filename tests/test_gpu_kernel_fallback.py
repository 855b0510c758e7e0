"""The kernel chooser never ends in a traceback: models whose head dimension (8, 4, 12) the fused kernels cannot
run predict, extract and train on the GPU with the default kernels, and models they can run (16) run them and
agree with the CPU (run with `pytest -m gpu`)."""

from __future__ import annotations

import pytest
import torch

from conftest import GOLDEN
from virnucpro.testing.genbank import write_genbank

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_predict_extract_train_on_head_dim_8_models(tmp_path, run_cli, tiny_models, tiny_model_args):
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "p", *tiny_model_args, "--device", "cuda:0")
    assert code == 0, err
    log = (tmp_path / "p" / "virnucpro.log").read_text()
    assert "ESM-2 attention sdpa" in log and "DNABERT-S attention sdpa" in log  # the planned fallback, logged
    encoders = [a for a in tiny_model_args if not str(a).endswith("classifier.pth") and a != "--classifier"]
    code, _, err = run_cli("extract", GOLDEN / "input.fa", "-o", tmp_path / "e", *encoders, "--device", "cuda:0")
    assert code == 0, err
    write_genbank(tmp_path / "v.gbk", 24, gc=0.68, seed=1, prefix="v")
    write_genbank(tmp_path / "o.gbk", 24, gc=0.32, seed=2, prefix="o")
    code, _, err = run_cli("train", "--viral", tmp_path / "v.gbk", "--other", tmp_path / "o.gbk", "--chunk-size", 300,
                           "-o", tmp_path / "t", *encoders, "--device", "cuda:0")
    assert code == 0, err


@pytest.mark.parametrize("esm_heads, dna_heads, fallback", [(12, 12, True), (4, 4, True), (3, 3, False)],
                         ids=["head_dim_4", "head_dim_12", "head_dim_16"])
def test_predict_on_the_gpu_with_any_head_dimension_matches_the_cpu(tmp_path, run_cli, esm_heads, dna_heads,
                                                                    fallback):
    from virnucpro.models.dnabert import DnaBertConfig
    from virnucpro.models.esm2 import ESM2Config
    from virnucpro.testing.factory import write_tiny_models

    models = write_tiny_models(tmp_path / "m", esm_cfg=ESM2Config(num_layers=2, embed_dim=48, attention_heads=esm_heads),
                               dnabert_cfg=DnaBertConfig(vocab_size=64, hidden_size=48, num_hidden_layers=2,
                                                         num_attention_heads=dna_heads, intermediate_size=96))
    args = ["--dnabert", models.dnabert_dir, "--esm", models.esm_dir, "--classifier", models.classifier, "--offline"]
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "gpu", *args, "--device", "cuda:0")
    assert code == 0, err  # fp16: the fused kernels where the head dimension allows, else SDPA
    # a small run: DNABERT-S takes SDPA (FlexAttention would compile); ESM-2 varlen where the head dimension allows
    kernels = "ESM-2 attention sdpa" if fallback else "ESM-2 attention varlen, DNABERT-S attention sdpa"
    assert kernels in (tmp_path / "gpu" / "virnucpro.log").read_text()
    code, _, err_cpu = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "cpu", *args, "--device", "cpu")
    assert code == 0, err_cpu
    gpu = (tmp_path / "gpu" / "sequences.tsv").read_text().splitlines()
    cpu = (tmp_path / "cpu" / "sequences.tsv").read_text().splitlines()
    assert [r.split("\t")[0] for r in gpu] == [r.split("\t")[0] for r in cpu]
