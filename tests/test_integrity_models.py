"""Damaged weight files are refused with one line (ModelError), never loaded into changed scores."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from virnucpro.errors import IntegrityError, ModelError
from virnucpro.models.classifier import MLPClassifier, load_classifier, save_classifier
from virnucpro.models.loaders import load_dnabert
from virnucpro.testing.factory import write_dnabert, write_legacy_classifier


def _member_data_offset(path, member_suffix: str) -> tuple[int, int]:
    """(offset of the first data byte, size) of the largest zip member whose name ends with `member_suffix`."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if i.filename.endswith(member_suffix) or member_suffix == ""),
                   key=lambda i: i.file_size)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(fh.read(4), "<u2")
    return info.header_offset + 30 + int(name_len) + int(extra_len), info.file_size


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _tiny_classifier(seed: int = 0) -> MLPClassifier:
    torch.manual_seed(seed)
    m = MLPClassifier(16, 8).eval()
    with torch.no_grad():
        m.bn1.running_var.fill_(1.0)
    return m


def test_dnabert_bin_with_a_flipped_byte_fails_its_zip_crc(tmp_path):
    d = write_dnabert(tmp_path / "dna")
    start, size = _member_data_offset(d / "pytorch_model.bin", "")
    _flip(d / "pytorch_model.bin", start + size // 2)
    with pytest.raises(ModelError, match="CRC|damaged"):
        load_dnabert(d)


def test_legacy_classifier_pth_with_a_flipped_byte_is_refused(tmp_path):
    path = write_legacy_classifier(tmp_path / "c.pth", input_dim=16, cuda_tagged=False)
    start, size = _member_data_offset(path, "")
    _flip(path, start + size // 2)
    with pytest.raises(ModelError, match="damaged"):
        load_classifier(path)


def test_pth_whose_tensor_exceeds_its_storage_is_refused(tmp_path):
    src = tmp_path / "ok.pth"
    torch.save(_tiny_classifier().state_dict(), src)
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if "/data/" in info.filename and len(data) > 64:
                data = data[:8]  # storage now smaller than the tensor rebuilt from it
            zout.writestr(info.filename, data)
    with pytest.raises(ModelError, match="storage"):
        load_classifier(bad)


@pytest.mark.parametrize("edit", ["nan_weight", "inf_bias", "negative_variance"])
def test_classifier_with_non_finite_weights_or_negative_variance_is_refused(tmp_path, edit):
    from safetensors.torch import save_file

    sd = {k: v.clone().contiguous() for k, v in _tiny_classifier().state_dict().items()}
    if edit == "nan_weight":
        sd["hidden_layer.weight"][0, 0] = float("nan")
    elif edit == "inf_bias":
        sd["output_layer.bias"][1] = float("inf")
    else:
        sd["bn1.running_var"][3] = -0.5
    save_file(sd, str(tmp_path / "c.safetensors"))
    with pytest.raises(ModelError, match="NaN|negative"):
        load_classifier(tmp_path / "c.safetensors")


@pytest.mark.parametrize("damage", ["truncated", "not_safetensors", "empty"])
def test_truncated_or_foreign_classifier_safetensors_is_one_line(tmp_path, damage):
    path = tmp_path / "c.safetensors"
    save_classifier(_tiny_classifier(), path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "not_safetensors": b"hello world" * 10,
                      "empty": b""}[damage])
    with pytest.raises(ModelError, match="c.safetensors"):
        load_classifier(path)


def test_trained_classifier_with_a_flipped_byte_fails_its_checksum(tmp_path):
    path = tmp_path / "c.safetensors"
    save_classifier(_tiny_classifier(), path)
    load_classifier(path)  # intact: loads
    _flip(path, len(path.read_bytes()) - 3)  # inside the last tensor's bytes
    with pytest.raises(ModelError, match="damaged|NaN"):
        load_classifier(path)


def test_save_classifier_refuses_non_finite_weights(tmp_path):
    m = _tiny_classifier()
    with torch.no_grad():
        m.hidden_layer.weight[0, 0] = float("nan")
    with pytest.raises(IntegrityError):
        save_classifier(m, tmp_path / "c.safetensors")
    assert not (tmp_path / "c.safetensors").exists()


def test_non_finite_scores_stop_with_one_line_not_written():
    from virnucpro.pipeline.scoring import classify

    feats = torch.randn(5, 16)
    feats[2, 0] = float("nan")  # a non-finite embedding
    with pytest.raises(IntegrityError, match="NaN or infinite"):
        classify(_tiny_classifier(), feats)
