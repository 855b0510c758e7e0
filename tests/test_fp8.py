"""--precision fp8: quantisation, the fp32 reference of the FP8 product, the opt-in checks, check-precision."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import one_error_line
from virnucpro.models import fp8
from virnucpro.models.attention import choose_linear


def test_weight_and_row_quantisation_stay_within_e4m3_precision():
    torch.manual_seed(0)
    w = torch.randn(96, 64) * torch.logspace(-3, 1, 96)[:, None]  # channels of very different size
    wq, scale = fp8.quantize_weight(w)
    assert wq.dtype == fp8.E4M3 and scale.shape == (1, 96)
    assert float(wq.float().abs().amax(dim=1).min()) == fp8.E4M3_MAX  # each channel uses the whole range
    deq = wq.float() * scale.t()
    assert float(((deq - w).norm(dim=1) / w.norm(dim=1)).max()) < 0.04  # 3 mantissa bits: ~2-3% per channel
    x = torch.randn(7, 64) * 50
    xq, xs = fp8.quantize_rows(x)
    assert xs.shape == (7, 1) and float(((xq.float() * xs - x).norm() / x.norm())) < 0.04


def test_reference_fp8_linear_approximates_the_plain_product():
    torch.manual_seed(1)
    x, w, b = torch.randn(33, 64), torch.randn(48, 64) * 0.05, torch.randn(48) * 0.1
    wq, ws = fp8.quantize_weight(w)
    got = fp8.reference_linear(x, wq, ws, b.to(torch.bfloat16))
    want = F.linear(x, w, b)
    assert got.shape == want.shape and got.dtype == x.dtype
    assert float((got - want).norm() / want.norm()) < 0.05
    assert choose_linear("plain") is F.linear and choose_linear("fp8_reference")(x, w, b).equal(F.linear(x, w, b))


def test_fp8_reference_esm_is_close_to_plain_and_the_switch_is_clean(tiny_models):
    from virnucpro.engine.embedder import Embedder, EngineConfig
    from virnucpro.models.loaders import load_dnabert, load_esm

    dnabert, tok = load_dnabert(tiny_models.dnabert_dir)
    prots = ["MKVLAAGIVGLLLAAQPAMA", "MSTNPKPQRKTKRNTNRRPQDVKFPGG", "MAHHHHHHVDDDDK" * 5]
    ids = [f"p{i}" for i in range(len(prots))]
    emb = Embedder(dnabert, tok, load_esm(tiny_models.esm_dir), EngineConfig())
    t = emb.tokenize(ids, ["ACGTAC"] * 3, prots)
    plain = emb.encode(emb.esm, t.protein, ids, 4096)
    fp8.quantize_esm(emb.esm)
    emb.esm.use_linear("fp8_reference")
    fast = emb.encode(emb.esm, t.protein, ids, 4096)
    emb.esm.use_linear("plain")
    again = emb.encode(emb.esm, t.protein, ids, 4096)
    cos = F.cosine_similarity(plain, fast, dim=1)
    assert float(cos.min()) > 0.99 and not torch.equal(plain, fast)
    assert torch.equal(plain, again)  # the plain path does not depend on the FP8 copies


@pytest.mark.parametrize("command", ["predict", "check-precision"])
def test_fp8_is_refused_without_fp8_tensor_cores(tmp_path, run_cli, model_args, golden_dir, command):
    out = ["-o", tmp_path / "out"] if command == "predict" else []
    code, _, err = run_cli(command, golden_dir / "input.fa", *out, *model_args, "--precision", "fp8", "--device", "cpu")
    assert code == 2 and "needs FP8 tensor cores" in one_error_line(err) and "cpu" in err
    assert not (tmp_path / "out").exists()


def test_check_precision_reports_agreement_on_a_deterministic_sample(tmp_path, tiny_models, capsys, reads_3k):
    from virnucpro.commands import check_precision as cp
    from virnucpro.models.store import ModelRefs

    refs = ModelRefs(dnabert=str(tiny_models.dnabert_dir), esm=str(tiny_models.esm_dir),
                     classifier=str(tiny_models.classifier))
    cfg = cp.CheckConfig(inputs=[str(reads_3k)], models=refs, offline=True, device="cpu", frames=300,
                         linear="fp8_reference", json_out=tmp_path / "check.json")
    report = cp.run(cfg)
    printed = capsys.readouterr().out
    assert "ESM-2 embedding cosine" in printed and "VERDICT: fp8 is" in printed
    assert json.loads((tmp_path / "check.json").read_text()) == report
    assert 250 <= report["frames"] <= 320 and report["frames_in_input"] > 3000
    assert 0.99 < report["esm_cosine"]["p1"] <= report["esm_cosine"]["mean"] <= 1.0
    assert report["esm_cosine"]["min"] <= report["esm_cosine"]["p1"]
    sample = cp.sample_frames(cfg)
    assert sample.ids == cp.sample_frames(cfg).ids  # deterministic
    reads = sorted({int(i.split("_")[1]) for i in sample.ids})
    assert reads[0] < 300 and reads[-1] > 2500  # spread over the whole input, not its head


def test_compare_counts_changed_calls():
    from virnucpro.commands.check_precision import compare, format_report

    torch.manual_seed(2)
    clf = torch.nn.Linear(8, 2)
    base = torch.randn(6, 8)
    fast = base.clone()
    fast[0] = -base[0]  # flips frame 0's call (a linear classifier: logits negate up to the bias)
    chunk = np.array([0, 0, 1, 1, 2, 2])
    r = compare(base, fast, clf, chunk, esm_dim=4)
    assert r["frames"] == 6 and r["chunks"] == 3 and r["esm_cosine"]["min"] == pytest.approx(-1.0)
    assert r["frames_call_changed"] <= 1 and not r["fit"]
    r.update(precision="fp8", device="cpu")
    assert "NOT recommended" in format_report(r)


@pytest.mark.gpu
def test_scaled_mm_matches_its_reference_on_gpu():
    if fp8.fp8_problem("cuda") is not None:
        pytest.skip("no FP8 tensor cores")
    torch.manual_seed(3)
    x = torch.randn(300, 256, device="cuda", dtype=torch.float16)
    w = (torch.randn(512, 256, device="cuda") * 0.05).half()
    b = (torch.randn(512, device="cuda") * 0.1).to(torch.bfloat16)
    wq, ws = fp8.quantize_weight(w)
    got = fp8.scaled_linear(x, wq, ws, b).float()
    want = fp8.reference_linear(x, wq, ws, b).float()
    assert float((got - want).norm() / want.norm()) < 5e-3


@pytest.mark.gpu
def test_predict_fp8_on_gpu_completes_and_stays_close_to_fp16(tmp_path, tiny_models, golden_dir):
    """SDPA: the tiny models' head dimension of 8 is below what compiled FlexAttention takes."""
    from virnucpro.commands import predict as cmd_predict
    from virnucpro.models.store import ModelRefs

    if fp8.fp8_problem("cuda") is not None:
        pytest.skip("no FP8 tensor cores")
    refs = ModelRefs(dnabert=str(tiny_models.dnabert_dir), esm=str(tiny_models.esm_dir),
                     classifier=str(tiny_models.classifier))
    for precision in ("fp16", "fp8"):
        cmd_predict.run(cmd_predict.PredictConfig(inputs=[str(golden_dir / "input.fa")], output_dir=tmp_path / precision,
                                                  models=refs, offline=True, device="cuda", precision=precision,
                                                  attention="sdpa", compile="off", progress=False,
                                                  precision_check=False))  # the fp8 path itself, unchecked
    rows = {p: [ln.split("\t") for ln in (tmp_path / p / "prediction_results.txt").read_text().splitlines()[1:]]
            for p in ("fp16", "fp8")}
    assert [r[0] for r in rows["fp16"]] == [r[0] for r in rows["fp8"]]
    diffs = [abs(float(a[3]) - float(b[3])) for a, b in zip(rows["fp16"], rows["fp8"])]
    # the tiny random models are touchy: on the H200 the largest score change was 0.21, the mean 0.015
    assert 0 < max(diffs) < 0.5 and sum(diffs) / len(diffs) < 0.05
    assert json.loads((tmp_path / "fp8" / "run_info.json").read_text())["precision"] == "fp8"


def test_check_precision_climbs_the_ladder_and_exits_1_when_only_fp16_is_fit(tmp_path, tiny_models, reads_3k, run_cli):
    """Every rung is reported (all four linears, then fc1+fc2); a classifier made so sensitive that any change of
    the embedding flips calls leaves only fp16 fit: exit status 1 for scripts."""
    from virnucpro.commands import check_precision as cp
    from virnucpro.models.store import ModelRefs
    from virnucpro.pipeline.precision_check import LADDER

    refs = ModelRefs(dnabert=str(tiny_models.dnabert_dir), esm=str(tiny_models.esm_dir),
                     classifier=str(tiny_models.classifier))
    cfg = cp.CheckConfig(inputs=[str(reads_3k)], models=refs, offline=True, device="cpu", frames=200,
                         linear="fp8_reference")
    report = cp.run(cfg)
    assert [r["variant"] for r in report["ladder"]] == [v.name for v in LADDER[:-1]]
    assert report["chosen"] in {v.name for v in LADDER}
    assert report["ladder"][1]["esm_cosine"]["p1"] >= report["ladder"][0]["esm_cosine"]["p1"] - 1e-4
    fit = [r["variant"] for r in report["ladder"] if r["fit"]]
    assert report["chosen"] == (fit[0] if fit else "fp16")


def test_ladder_falls_back_to_fp16_and_the_command_exits_1(tiny_models, reads_3k, monkeypatch, run_cli):
    from virnucpro.commands import check_precision as cp
    from virnucpro.models.store import ModelRefs
    from virnucpro.pipeline import precision_check

    monkeypatch.setattr(precision_check, "MIN_P1_COSINE", 1.01)  # no fp8 rung can meet it
    refs = ModelRefs(dnabert=str(tiny_models.dnabert_dir), esm=str(tiny_models.esm_dir),
                     classifier=str(tiny_models.classifier))
    report = cp.run(cp.CheckConfig(inputs=[str(reads_3k)], models=refs, offline=True, device="cpu", frames=100,
                                   linear="fp8_reference"))
    assert report["chosen"] == "fp16" and not any(r["fit"] for r in report["ladder"])
    monkeypatch.setattr(cp, "run", lambda cfg: report)
    code, out, _ = run_cli("check-precision", reads_3k, "--dnabert", tiny_models.dnabert_dir, "--esm",
                           tiny_models.esm_dir, "--classifier", tiny_models.classifier, "--offline")
    assert code == 1


def test_predict_fast_mode_settles_its_rung_before_computing(tiny_models, reads_3k, monkeypatch):
    """predict's own check (the CPU reference product): climbs the ladder on ~2,000 sampled frames with the loaded
    models, hands them on, records what it tried; a resume keeps the recorded rung; --no-precision-check skips."""
    from virnucpro.models.store import ModelPaths
    from virnucpro.pipeline import precision_check as pc
    from virnucpro.pipeline.worker import WorkerConfig, load_models
    from virnucpro.io.seqio import read_inputs

    paths = ModelPaths(tiny_models.dnabert_dir, tiny_models.esm_dir, tiny_models.classifier)
    w = WorkerConfig(device="cpu", precision="fp32", out_dir=".", models=paths)
    loaded = load_models(w)
    batches = lambda: read_inputs([str(reads_3k)], 4096, None, 1, False)  # noqa: E731
    monkeypatch.setattr(pc, "MIN_P1_COSINE", 1.01)  # nothing but fp16 is fit
    workers, kept, record = pc.settle_fast_mode([w], batches, 500, None, None, True, loaded, "fp8_reference")
    assert kept is loaded and record["chosen"] == "fp16" and workers[0].precision == "fp16"
    assert [t["variant"] for t in record["tried"]] == ["fp8", "fp8-ffn"] and 1500 <= record["sample_frames"] <= 2100
    monkeypatch.setattr(pc, "MIN_P1_COSINE", -1.0)  # everything is fit: the fastest rung, the check stops there
    monkeypatch.setattr(pc, "MAX_CHUNK_CHANGES", 1.0)
    workers, _, record = pc.settle_fast_mode([w], batches, 500, None, None, True, loaded, "fp8_reference")
    assert record["chosen"] == "fp8" and len(record["tried"]) == 1
    workers, _, again = pc.settle_fast_mode([w, w], batches, 500, None, {"chosen": "fp8-ffn", "checked": True}, True)
    assert again["chosen"] == "fp8-ffn" and all(x.fp8_linears == ("fc1", "fc2") for x in workers)
    _, _, unchecked = pc.settle_fast_mode([w], batches, 500, None, None, False)
    assert unchecked == {"checked": False, "chosen": "fp8"}
