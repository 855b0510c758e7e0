"""Weight loading: every supported format, strict key/shape errors, and refusal of malicious pickles."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from virnucpro.errors import ModelError
from virnucpro.models.classifier import MLPClassifier, load_classifier, save_classifier
from virnucpro.models.loaders import load_dnabert, load_esm
from virnucpro.testing.factory import write_dnabert, write_esm_fair, write_esm_hf, write_legacy_classifier


@pytest.fixture(scope="module")
def legacy_classifier(tmp_path_factory):
    return write_legacy_classifier(tmp_path_factory.mktemp("clf") / "500_model.pth", input_dim=96, seed=1)


def _edit_safetensors(path, edit):
    from safetensors.torch import load_file, save_file

    sd = load_file(str(path))
    edit(sd)
    save_file(sd, str(path))


def test_missing_key_is_an_error(tmp_path):
    d = write_esm_hf(tmp_path / "m")
    _edit_safetensors(d / "model.safetensors", lambda sd: sd.pop("esm.encoder.layer.1.attention.LayerNorm.bias"))
    with pytest.raises(ModelError, match=r"missing keys: layers\.1\.attn_norm\.bias"):
        load_esm(d)


def test_extra_key_is_an_error(tmp_path):
    d = write_esm_hf(tmp_path / "m")
    _edit_safetensors(d / "model.safetensors", lambda sd: sd.update({"esm.encoder.layer.0.surprise": torch.zeros(2)}))
    with pytest.raises(ModelError, match=r"unexpected keys: esm\.encoder\.layer\.0\.surprise"):
        load_esm(d)


def test_wrong_shape_is_an_error(tmp_path):
    d = write_esm_hf(tmp_path / "m")
    _edit_safetensors(d / "model.safetensors",
                      lambda sd: sd.update({"esm.encoder.layer.0.intermediate.dense.bias": torch.zeros(5)}))
    with pytest.raises(ModelError, match=r"wrong shapes: layers\.0\.fc1\.bias \(5,\)"):
        load_esm(d)


def test_dnabert_missing_key(tmp_path):
    d = write_dnabert(tmp_path / "m", fmt="safetensors")
    _edit_safetensors(d / "model.safetensors", lambda sd: sd.pop("encoder.layer.0.mlp.gated_layers.weight"))
    with pytest.raises(ModelError, match=r"missing keys: layers\.0\.gated\.weight"):
        load_dnabert(d)


def test_missing_paths(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_esm(tmp_path / "nope")
    with pytest.raises(ModelError, match="not found"):
        load_dnabert(tmp_path / "nope")
    with pytest.raises(ModelError, match="not found"):
        load_classifier(tmp_path / "nope.pth")


def test_fair_esm_file_with_namespace_config(tmp_path):
    model = load_esm(write_esm_fair(tmp_path / "esm2_t2.pt"))
    assert model.cfg.num_layers == 2 and model.cfg.attention_heads == 4


def test_legacy_classifier_loads_without_cuda(legacy_classifier):
    # plain torch.load needs the __main__ class and a GPU for these storages: we need neither
    proc = subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(legacy_classifier)!r}, "
                           "weights_only=False, map_location=None)"], capture_output=True, text=True)
    assert proc.returncode != 0
    clf = load_classifier(legacy_classifier)
    assert isinstance(clf, MLPClassifier) and not clf.training
    assert clf.hidden_layer.weight.shape == (512, 96)
    assert int(clf.bn1.num_batches_tracked) == 1000


def test_legacy_classifier_forward_matches_manual_math(legacy_classifier):
    clf = load_classifier(legacy_classifier)
    x = torch.randn(5, 96)
    h = x @ clf.hidden_layer.weight.T + clf.hidden_layer.bias
    h = (h - clf.bn1.running_mean) / torch.sqrt(clf.bn1.running_var + clf.bn1.eps) * clf.bn1.weight + clf.bn1.bias
    want = h.relu() @ clf.output_layer.weight.T + clf.output_layer.bias
    with torch.no_grad():
        assert torch.allclose(clf(x), want, atol=1e-5)


def test_classifier_safetensors_round_trip(legacy_classifier, tmp_path):
    clf = load_classifier(legacy_classifier)
    save_classifier(clf, tmp_path / "clf.safetensors")
    again = load_classifier(tmp_path / "clf.safetensors")
    x = torch.randn(3, 96)
    with torch.no_grad():
        assert torch.equal(clf(x), again(x))


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("payload", ["open", "system"])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = tmp_path / "500_model.pth"
    if payload == "open":
        torch.save({"model": _Evil(str(marker))}, evil)
    else:
        import os

        class System:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        torch.save(System(), evil)
    with pytest.raises(ModelError, match="refusing"):
        load_classifier(evil)
    with pytest.raises(ModelError, match="refusing"):
        load_esm(evil)
    assert not marker.exists()


def test_non_zip_file_is_refused(tmp_path):
    bad = tmp_path / "model.pth"
    bad.write_bytes(b"\x80\x02 not a zip")
    with pytest.raises(ModelError, match="not a torch zip-format"):
        load_classifier(bad)


def test_checkpoint_without_inv_freq_loads_with_warning(tmp_path, caplog, monkeypatch):
    import logging

    monkeypatch.setattr(logging.getLogger("virnucpro"), "propagate", True)  # an earlier CLI call turns it off
    d = write_esm_hf(tmp_path / "m")
    _edit_safetensors(d / "model.safetensors",
                      lambda sd: [sd.pop(k) for k in [k for k in sd if k.endswith("inv_freq")]])
    with caplog.at_level(logging.WARNING, logger="virnucpro"):
        model = load_esm(d)
    assert "no rotary inv_freq" in caplog.text
    assert torch.allclose(model.layers[1].inv_freq, 1.0 / 10000 ** (torch.arange(0, 12, 2).float() / 12))


def test_one_missing_inv_freq_is_still_an_error(tmp_path):
    d = write_esm_hf(tmp_path / "m")
    _edit_safetensors(d / "model.safetensors",
                      lambda sd: sd.pop("esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq"))
    with pytest.raises(ModelError, match=r"missing keys: layers\.0\.inv_freq"):
        load_esm(d)


def test_fair_esm_file_with_defaultdict_and_unknown_config_loads(tmp_path):
    """Configs pickled as other objects (omegaconf, defaultdicts) load inertly; heads come from the presets."""
    import collections

    from virnucpro.models.esm2 import ESM2Config

    path = write_esm_fair(tmp_path / "e.pt", ESM2Config(6, 320, 20))
    obj = torch.load(path, weights_only=False)
    obj["cfg"] = {"model": collections.defaultdict(list, {"encoder_layers": 6}), "extra": collections.OrderedDict()}
    torch.save(obj, path)
    model = load_esm(path)
    assert model.cfg.attention_heads == 20 and model.cfg.num_layers == 6
