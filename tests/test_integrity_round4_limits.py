"""Round-4 limits: model files checked before the output directory is claimed, non-file inputs bounded,
odd paths and closed stdin answered in one line, the CPU's out-of-memory answered like the GPU's."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from conftest import one_error_line
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


class _Missing:
    def __repr__(self):
        return "missing"


_DROP = _Missing()
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


# --- non-file inputs: sniffed before they are copied, bounded while they are -------------------------------------

class _Endless(__import__("io").RawIOBase):
    """A stream that never ends: `head` once, then `body` forever."""

    def __init__(self, head: bytes, body: bytes):
        self.pending, self.body = head, body

    def readable(self):
        return True

    def readinto(self, buf):
        while len(self.pending) < len(buf):
            self.pending += self.body * 4096
        n = len(buf)
        buf[:n], self.pending = self.pending[:n], self.pending[n:]
        return n


def _stdin(monkeypatch, raw):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(raw)))


@pytest.mark.parametrize("head,body,what", [(b"", b"\x00", "NUL bytes"), (b"", b"ACGT\n", "ACGT"),
                                            (b">r\n", b"AC\x00GT", "binary data"),
                                            (b"\x7fELF\x02\x01", b"\x01\x02", "ELF"),
                                            (b"\xef\xbb\xbf>r\n", b"ACGT\n", "xef")])
def test_streams_that_are_no_input_format_are_refused_at_once(run_cli, monkeypatch, models, tmp_path, head, body,
                                                              what):
    _stdin(monkeypatch, _Endless(head, body))
    code, _, err = _predict(run_cli, models, "-", tmp_path / "out")
    line = one_error_line(err)
    assert code == 2 and "not FASTA/FASTQ/BAM" in line and what in line, line
    assert not (tmp_path / "out").exists()


def test_an_endless_valid_stream_stops_before_the_disk_fills(run_cli, monkeypatch, models, tmp_path):
    from virnucpro.io import spool

    monkeypatch.setattr(spool, "margin_bytes", lambda d: spool.free_bytes(d) - (40 << 20))  # 40 MiB may be used
    _stdin(monkeypatch, _Endless(b">r\n", b"ACGTTGCAAC" * 7 + b"\n"))
    code, _, err = _predict(run_cli, models, "-", tmp_path / "out")
    line = one_error_line(err)
    assert code == 2 and "no space left for the piped input" in line and "stopped after" in line, line
    assert "MiB" in line and "out'" in line, line
    assert not (tmp_path / "out").exists()  # the spool went with the unclaimed directory


def test_a_device_path_is_bounded_like_stdin(run_cli, models, tmp_path):
    code, _, err = _predict(run_cli, models, "/dev/zero", tmp_path / "out")
    assert code == 2 and "'/dev/zero' is not FASTA/FASTQ/BAM" in one_error_line(err)


def test_closed_stdin_is_one_line(run_cli, monkeypatch, models, tmp_path):
    import sys

    monkeypatch.setattr(sys, "stdin", None)  # what Python sets when fd 0 is closed (`<&-`)
    code, _, err = _predict(run_cli, models, "-", tmp_path / "p")
    assert code == 2 and "stdin is closed" in one_error_line(err)
    code, _, err = run_cli("prepare", "-", "-o", tmp_path / "q")
    assert code == 2 and "stdin is closed" in one_error_line(err)


def test_small_piped_inputs_still_work(run_cli, monkeypatch, models, fasta, tmp_path):
    import gzip
    import io

    _stdin(monkeypatch, io.BytesIO(gzip.compress(fasta.read_bytes())))
    code, _, err = _predict(run_cli, models, "-", tmp_path / "gz")
    assert code == 0, err
    _stdin(monkeypatch, io.BytesIO(fasta.read_bytes()))
    code, _, err = _predict(run_cli, models, "-", tmp_path / "plain")
    assert code == 0, err
    assert (tmp_path / "gz" / "sequences.tsv").read_bytes() == (tmp_path / "plain" / "sequences.tsv").read_bytes()


# --- the CPU's out-of-memory: the same clean answer as the GPU's (exit 4) ----------------------------------------

def test_an_attention_bias_larger_than_free_memory_is_exit_4(run_cli, monkeypatch, models, fasta, tmp_path):
    from virnucpro.engine import memory

    monkeypatch.setattr(memory, "available_host_bytes", lambda: 50_000)  # less than one tiny DNABERT bias
    code, _, err = _predict(run_cli, models, fasta, tmp_path / "out")
    line = one_error_line(err)
    assert code == 4 and "does not fit in host memory even alone" in line and "attention bias" in line, line


def test_a_batch_too_large_for_memory_is_split_first(run_cli, monkeypatch, models, tmp_path):
    from virnucpro.models.dnabert import DnaBert

    fa = tmp_path / "two.fa"
    fa.write_text(">a\n" + "ACGTTGCA" * 40 + "\n>b\n" + "TTGCAACG" * 40 + "\n")
    code, _, err = _predict(run_cli, models, fa, tmp_path / "whole")
    assert code == 0, err
    forward = DnaBert.forward

    def one_at_a_time(self, batch):  # the CPU allocator refuses any batch of several sequences
        if batch.num_seqs > 1:
            raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes.")
        return forward(self, batch)

    monkeypatch.setattr(DnaBert, "forward", one_at_a_time)
    code, _, err = _predict(run_cli, models, fa, tmp_path / "split")
    assert code == 0, err
    assert (tmp_path / "split" / "sequences.tsv").read_bytes() == (tmp_path / "whole" / "sequences.tsv").read_bytes()


def test_the_cpu_allocators_error_is_exit_4(run_cli, monkeypatch, models, fasta, tmp_path):
    from virnucpro.models.esm2 import ESM2

    def refuse(self, batch):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you "
                           "tried to allocate 13849296896 bytes.")

    monkeypatch.setattr(ESM2, "forward", refuse)
    code, _, err = _predict(run_cli, models, fasta, tmp_path / "out")
    line = one_error_line(err)
    assert code == 4 and "host memory" in line, line


def test_other_runtime_errors_are_not_taken_for_out_of_memory():
    from virnucpro.engine.embedder import is_out_of_memory

    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))


def test_shape_tables_match_the_built_models():
    from virnucpro.models import dnabert, esm2
    from virnucpro.testing.factory import TINY_DNABERT, TINY_ESM

    for cfg in (TINY_ESM, esm2.PRESETS["esm2_t6_8M_UR50D"], esm2.ESM2Config(2, 48, 4, intermediate_size=80)):
        with torch.device("meta"):
            built = {k: tuple(v.shape) for k, v in esm2.ESM2(cfg).state_dict().items()}
        assert built == esm2.state_shapes(cfg)
    for cfg in (TINY_DNABERT, dnabert.DNABERT_S):
        with torch.device("meta"):
            built = {k: tuple(v.shape) for k, v in dnabert.DnaBert(cfg).state_dict().items()}
        assert built == dnabert.state_shapes(cfg)


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_lazy_checks_see_what_loading_sees(tmp_path, fmt):
    from virnucpro.models.loaders import dnabert_parts, esm_parts
    from virnucpro.testing.factory import write_dnabert, write_esm_hf

    esm = write_esm_hf(tmp_path / "esm", fmt=fmt)
    dna = write_dnabert(tmp_path / "dna", fmt=fmt)
    for parts, path in ((esm_parts, esm), (dnabert_parts, dna)):
        lazy, eager = parts(path, lazy=True), parts(path)
        assert lazy[0] == eager[0] and lazy[2] == eager[2]
        assert {k: (v.shape, v.dtype) for k, v in lazy[1].items()} == {k: (v.shape, v.dtype) for k, v in eager[1].items()}
        assert all(v.is_meta for k, v in lazy[1].items() if not k.endswith("inv_freq"))


# --- paths: link loops, bytes that are not UTF-8 ------------------------------------------------------------------

def test_an_input_that_is_a_link_loop_is_one_line(run_cli, models, tmp_path):
    (tmp_path / "loop.fa").symlink_to(tmp_path / "loop.fa")
    code, _, err = _predict(run_cli, models, tmp_path / "loop.fa", tmp_path / "out")
    assert code == 2 and "symbolic link" in one_error_line(err)


def test_an_output_under_a_link_loop_is_one_line(run_cli, models, fasta, tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    code, _, err = _predict(run_cli, models, fasta, tmp_path / "loop" / "out")
    assert code == 2 and "link" in one_error_line(err)


def test_an_output_directory_that_is_not_utf8_is_refused_by_the_parser(run_cli, models, fasta, tmp_path):
    import os

    out = os.fsdecode(bytes(tmp_path) + b"/out\xff")
    with pytest.raises(SystemExit) as exc:
        _predict(run_cli, models, fasta, out)
    assert exc.value.code == 2


def test_an_input_path_that_is_not_utf8_runs_and_logs_everything(run_cli, tmp_path, models, fasta):
    import os

    odd = os.fsdecode(bytes(tmp_path) + b"/in\xff.fa")
    shutil.copy(fasta, odd)
    out = tmp_path / "out"
    code, _, err = _predict(run_cli, models, odd, out)
    assert code == 0 and "Traceback" not in err, err
    log = (out / "virnucpro.log").read_text(encoding="utf-8")
    shown = ("in\\udcff.fa", "in\\xff.fa")  # the undecodable byte, escaped (never raw, never a traceback)
    assert any(s in log for s in shown) and "done in" in log
    assert any(s in (out / "report.html").read_text(encoding="utf-8") for s in shown)


# --- a long record is translated window by window: same frames, memory bounded by the window ----------------------

def _record_batch(seed: int, lengths: list[int]):
    import random

    from virnucpro.io.seqio import RecordBatch

    rnd = random.Random(seed)
    seqs = ["".join(rnd.choice("ACGTacgtNNRY" if i % 3 == 0 else "ACGT") for _ in range(n)) for i, n in
            enumerate(lengths)]
    return RecordBatch([f"r{i}" for i in range(len(seqs))], seqs)


@pytest.mark.parametrize("window", [1, 7, 500, 1234, 10_000])
def test_windows_translate_exactly_like_one_pass(monkeypatch, window):
    from virnucpro.prep import prepare

    batch = _record_batch(3, [3000, 17, 499, 500, 501, 12_345, 2])
    whole = prepare.prepare_batch(batch, 500)
    counted = prepare.count_batch(batch, 300)
    monkeypatch.setattr(prepare, "WINDOW_BASES", window)
    monkeypatch.setattr(prepare.chunk_windows, "__defaults__", (window,))
    parts = prepare.prepare_batch(batch, 500)
    assert parts.frame_ids == whole.frame_ids and parts.proteins == whole.proteins
    assert parts.nucleotides == whole.nucleotides and (parts.frame_chunk == whole.frame_chunk).all()
    assert parts.chunk_seqs == whole.chunk_seqs
    assert prepare.count_batch(batch, 300) == counted


def test_a_long_record_is_prepared_in_bounded_memory(monkeypatch):
    import tracemalloc

    import numpy as np

    from virnucpro.io.seqio import RecordBatch
    from virnucpro.prep import prepare

    n = 8_000_000
    seq = np.frombuffer(b"ACGT", np.uint8)[np.random.default_rng(0).integers(0, 4, n)].tobytes().decode()
    batch = RecordBatch(["long"], [seq])
    monkeypatch.setattr(prepare.chunk_windows, "__defaults__", (1 << 20,))
    tracemalloc.start()
    try:
        prepare.count_batch(batch, 500)
        prepare.prepare_batch(batch, 500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * n + (24 << 20), peak  # layout and chunks ~2.2x, plus one window's temporaries (was ~16x n)


def test_train_checks_the_models_before_claiming_its_directory(run_cli, models, tmp_path):
    from virnucpro.testing.genbank import write_genbank

    write_genbank(tmp_path / "v.gbk", 4, gc=0.68, seed=1, prefix="vir")
    write_genbank(tmp_path / "o.gbk", 4, gc=0.32, seed=2, prefix="oth")
    _edit_config(models / "dnabert" / "config.json", num_attention_heads=7)
    code, _, err = run_cli("train", "--viral", tmp_path / "v.gbk", "--other", tmp_path / "o.gbk", "--chunk-size", 300,
                           "-o", tmp_path / "out", "--dnabert", models / "dnabert", "--esm", models / "esm",
                           "--offline", "--device", "cpu")
    assert code == 2 and "attention heads" in one_error_line(err)
    assert not (tmp_path / "out" / "run_info.json").exists()


def test_a_config_that_is_a_fifo_does_not_hang(run_cli, models, fasta, tmp_path):
    import os

    (models / "esm" / "config.json").unlink()
    os.mkfifo(models / "esm" / "config.json")
    _refused_before_claim(run_cli, models, fasta, tmp_path / "out", "not a regular file")


def test_a_full_disk_while_spooling_names_the_path(run_cli, monkeypatch, models, fasta, tmp_path):
    import errno
    import io

    from virnucpro.io import spool

    def full(fh, block, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(spool, "_write", full)
    _stdin(monkeypatch, io.BytesIO(fasta.read_bytes()))
    code, _, err = _predict(run_cli, models, "-", tmp_path / "out")
    line = one_error_line(err)
    assert code == 2 and "no space left" in line and ".input.spool" in line, line


def test_a_fair_esm_checkpoint_with_a_far_layer_index_is_refused_fast(tmp_path):
    import time

    from virnucpro.models.loaders import load_esm
    from virnucpro.testing.factory import write_esm_fair

    path = write_esm_fair(tmp_path / "esm.pt")
    obj = torch.load(path, weights_only=False)
    key = next(k for k in obj["model"] if ".layers.1.fc1.weight" in k)
    obj["model"][key.replace(".layers.1.", ".layers.999999.")] = obj["model"].pop(key)
    torch.save(obj, path)
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="layers"):
        load_esm(path)
    assert time.perf_counter() - t0 < 5
