"""`predict --precision fp8` checks itself first (run with `pytest -m gpu` on a GPU with FP8 tensor cores)."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def _sensitive_classifier(tmp_path, tiny_models, golden_dir):
    """A classifier whose calls flip under any small change of the ESM-2 embedding (huge gain around the data's
    mean): all-fp8 cannot be fit for it, fp16 always is."""
    from virnucpro.models.store import ModelPaths
    from virnucpro.models.classifier import save_classifier
    from virnucpro.pipeline.worker import WorkerConfig, load_models
    from virnucpro.prep.prepare import prepare_batch
    from virnucpro.io.seqio import read_inputs

    paths = ModelPaths(tiny_models.dnabert_dir, tiny_models.esm_dir, tiny_models.classifier)
    emb, clf = load_models(WorkerConfig(device="cuda:0", precision="fp16", out_dir=tmp_path, models=paths,
                                        compile="off"))
    p = [prepare_batch(b, 500) for b in read_inputs([str(golden_dir / "input.fa")], 4096)][0]
    feats = emb.features(emb.tokenize(p.frame_ids, p.nucleotides, p.proteins))  # (F, D)
    d_dna = emb.dnabert.cfg.hidden_size
    g = torch.Generator().manual_seed(0)
    w = torch.randn(clf.hidden_layer.out_features, feats.shape[1], generator=g) * 1000
    w[:, :d_dna] = 0
    clf = clf.cpu()
    with torch.no_grad():
        clf.hidden_layer.weight.copy_(w)
        clf.hidden_layer.bias.copy_(-(w @ feats.mean(0)))
        clf.bn1.running_mean.zero_()
        clf.bn1.running_var.fill_(1.0)
        clf.output_layer.weight.copy_(torch.randn(clf.output_layer.weight.shape, generator=g))
    save_classifier(clf, tmp_path / "sensitive.safetensors")
    return tmp_path / "sensitive.safetensors"


def test_predict_fp8_picks_a_fit_rung_records_it_and_a_resume_keeps_it(tmp_path, tiny_models, golden_dir, run_cli):
    from virnucpro.models.fp8 import fp8_problem

    if fp8_problem("cuda") is not None:
        pytest.skip("no FP8 tensor cores")
    clf = _sensitive_classifier(tmp_path, tiny_models, golden_dir)
    args = ["predict", golden_dir / "input.fa", "--dnabert", tiny_models.dnabert_dir, "--esm", tiny_models.esm_dir,
            "--classifier", clf, "--offline", "--device", "cuda:0", "--precision", "fp8"]
    code, _, err = run_cli(*args, "-o", tmp_path / "out")
    assert code == 0, err
    info = json.loads((tmp_path / "out" / "run_info.json").read_text())
    check = info["precision_check"]
    assert check["checked"] and check["tried"][0]["variant"] == "fp8" and not check["tried"][0]["fit"]
    assert check["chosen"] in ("fp8-ffn", "fp16")
    assert "fast mode: using " + check["chosen"] in err
    code, _, err = run_cli(*args, "-o", tmp_path / "unchecked", "--no-precision-check")
    assert code == 0, err
    info = json.loads((tmp_path / "unchecked" / "run_info.json").read_text())
    assert info["precision_check"] == {"checked": False, "chosen": "fp8"}
