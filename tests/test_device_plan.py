"""What the GPU will do, decided on the CPU: the full-size ESM-2 3B and DNABERT-S configurations planned as they
would run on an H100/H200 get the fused kernels, compile and the memory-sized batches; small head dimensions
get the documented SDPA fallback. These tests run without a GPU, so CI guards the GPU's choices."""

from __future__ import annotations

import json

import pytest
import torch

from virnucpro.engine.device_plan import batch_tokens, compile_on, plan_engine
from virnucpro.models.attention import choose_backend
from virnucpro.models.capabilities import AMPERE_A100, CPU, HOPPER_H100, HOPPER_H200, DeviceCaps, fp8_problem
from virnucpro.models.dnabert import DNABERT_S, DnaBert, DnaBertConfig
from virnucpro.models.esm2 import ESM2, PRESETS, ESM2Config

ESM_3B = PRESETS["esm2_t36_3B_UR50D"]
HOPPER = [HOPPER_H100, HOPPER_H200]


def test_published_dnabert_s_config_is_the_planned_one():
    from importlib.resources import files

    published = json.loads(files("virnucpro.testing").joinpath("dnabert_s_config.json").read_text())
    assert DnaBertConfig.from_json(published) == DNABERT_S
    assert (ESM_3B.embed_dim, ESM_3B.attention_heads, ESM_3B.head_dim) == (2560, 40, 64)


@pytest.mark.parametrize("caps", HOPPER, ids=lambda c: c.name)
@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp8"])
def test_full_size_models_on_hopper_get_the_fused_kernels(caps, precision):
    plan = plan_engine(caps, ESM_3B, DNABERT_S, precision)
    assert plan.esm_attention == "varlen"  # flash varlen: head dim 64, no bias
    assert plan.dnabert_attention == "flex"  # FlexAttention with the ALiBi score_mod: head dim 64, a power of two
    assert plan.compile is True
    assert plan.esm_linear == ("fp8" if precision == "fp8" else "plain")


def test_batch_budgets_follow_free_memory():
    assert batch_tokens(HOPPER_H200) == (65536, 262144)
    assert batch_tokens(HOPPER_H100) == (65536, 262144)
    small = DeviceCaps("cuda", "small", (8, 9), 24 * 2**30, True)
    assert batch_tokens(small) == (21000, 84000)
    assert batch_tokens(DeviceCaps("cuda", "tiny", (8, 9), 4 * 2**30, True)) == (4096, 16384)
    assert batch_tokens(CPU) == (4096, 16384)
    plan = plan_engine(HOPPER_H200, ESM_3B, DNABERT_S, "fp16", esm_batch_tokens=8192, dnabert_batch_tokens=1024)
    assert (plan.esm_batch_tokens, plan.dnabert_batch_tokens) == (8192, 1024)  # the user's flags win


def test_cpu_plan_is_sdpa_fp32_without_compile():
    plan = plan_engine(CPU, ESM_3B, DNABERT_S, "fp32")
    assert (plan.esm_attention, plan.dnabert_attention, plan.compile, plan.dtype) == ("sdpa", "sdpa", False,
                                                                                      torch.float32)
    assert compile_on("on", CPU) and not compile_on("off", HOPPER_H200) and compile_on("auto", HOPPER_H200)


def test_without_the_varlen_kernel_esm2_takes_flex():
    no_varlen = DeviceCaps("cuda", "older torch", (9, 0), 78 * 2**30, varlen=False)
    assert plan_engine(no_varlen, ESM_3B, DNABERT_S, "fp16").esm_attention == "flex"


@pytest.mark.parametrize("heads, head_dim, esm_kernel", [(4, 8, "varlen"), (4, 12, "sdpa"), (8, 4, "sdpa"),
                                                          (2, 16, "varlen"), (1, 512, "sdpa")])
def test_small_or_odd_esm_head_dims_fall_back_as_documented(heads, head_dim, esm_kernel):
    cfg = ESM2Config(num_layers=2, embed_dim=heads * head_dim, attention_heads=heads)
    assert plan_engine(HOPPER_H200, cfg, DNABERT_S, "fp16").esm_attention == esm_kernel


@pytest.mark.parametrize("heads, head_dim, kernel", [(6, 8, "sdpa"), (8, 4, "sdpa"), (4, 48, "sdpa"),
                                                      (2, 16, "flex"), (12, 64, "flex")])
def test_small_or_odd_dnabert_head_dims_fall_back_as_documented(heads, head_dim, kernel):
    cfg = DnaBertConfig(vocab_size=64, hidden_size=heads * head_dim, num_hidden_layers=2, num_attention_heads=heads,
                        intermediate_size=32)
    assert plan_engine(HOPPER_H200, ESM_3B, cfg, "fp16").dnabert_attention == kernel


def test_the_models_themselves_choose_from_the_head_dimension():
    """The method each forward pass calls, on full-size models built on the meta device (no memory)."""
    with torch.device("meta"):
        esm, dnabert = ESM2(ESM_3B), DnaBert(DNABERT_S)
    x_esm = torch.empty(300, 2560, dtype=torch.float16, device="meta")  # (T, D) hidden states
    x_dna = torch.empty(300, 768, dtype=torch.float16, device="meta")
    for caps in HOPPER:
        assert esm.attention_kernel(x_esm, caps) == "varlen"
        assert dnabert.attention_kernel(x_dna, caps) == "flex"
    assert esm.attention_kernel(x_esm, CPU) == dnabert.attention_kernel(x_dna, CPU) == "sdpa"


def test_the_chooser_refuses_hidden_states_in_place_of_queries():
    with pytest.raises(AssertionError, match="tokens, heads, head_dim"):
        choose_backend("auto", torch.empty(10, 2560, dtype=torch.float16, device="meta"), False, HOPPER_H200)


def test_fp8_needs_ada_or_later():
    assert fp8_problem(HOPPER_H200) is None and fp8_problem(HOPPER_H100) is None
    assert "compute capability 8.0" in fp8_problem(AMPERE_A100)
    assert "no FP8 tensor cores" in fp8_problem(CPU, "cpu")


def test_a_small_run_compiles_nothing():
    """A 20-read sample: eager blocks and SDPA for DNABERT-S (FlexAttention would compile); big runs and runs of
    unknown size get the compiled, fused path."""
    from virnucpro.engine.device_plan import COMPILE_MIN_FRAMES

    small = plan_engine(HOPPER_H200, ESM_3B, DNABERT_S, "fp16", frames=30)
    assert (small.compile, small.esm_attention, small.dnabert_attention) == (False, "varlen", "sdpa")
    for frames in (COMPILE_MIN_FRAMES, None):
        big = plan_engine(HOPPER_H200, ESM_3B, DNABERT_S, "fp16", frames=frames)
        assert (big.compile, big.esm_attention, big.dnabert_attention) == (True, "varlen", "flex")
    forced = plan_engine(HOPPER_H200, ESM_3B, DNABERT_S, "fp16", frames=30, attention="flex", compile="on")
    assert (forced.compile, forced.dnabert_attention) == (True, "flex")  # the user's flags win
