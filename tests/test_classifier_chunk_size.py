"""A classifier recorded for one chunk size is refused with the other; an unknown one only warns."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from conftest import GOLDEN, one_error_line


@pytest.fixture
def mirror(tmp_path, tiny_models):
    """A local HTTP mirror serving the tiny classifier as the published 300_model.pth and 500_model.pth."""
    root = tmp_path / "mirror"
    root.mkdir()
    for cs in (300, 500):
        shutil.copy(tiny_models.classifier, root / f"{cs}_model.pth")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{{cs}}_model.pth"
    httpd.shutdown()


def _models(tiny_models):
    return ["--dnabert", tiny_models.dnabert_dir, "--esm", tiny_models.esm_dir]


def test_published_classifier_used_with_the_other_chunk_size(mirror, tmp_path, run_cli, tiny_models, monkeypatch):
    monkeypatch.setenv("VIRNUCPRO_CLASSIFIER_URL", mirror)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cache = tmp_path / "cache"
    code, _, err = run_cli("download", "--model-dir", cache, "--chunk-size", "300", *_models(tiny_models))
    assert code == 0, err
    published_300 = cache / "classifiers" / "300_model.pth"
    # from the cache, and as a copy elsewhere (recognised by its sha256)
    copy = tmp_path / "my_classifier.pth"
    shutil.copy(published_300, copy)
    for clf in (published_300, copy):
        code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--chunk-size", "500",
                               "--classifier", clf, "--model-dir", cache, "--offline", *_models(tiny_models))
        line = one_error_line(err)
        assert code == 2 and "is for 300-bp chunks, not --chunk-size 500" in line and "--chunk-size 300" in line
        assert not (tmp_path / "o").exists()
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--chunk-size", "300",
                           "--model-dir", cache, "--offline", *_models(tiny_models))
    assert code == 0, err


def test_safetensors_classifier_with_its_chunk_size(tmp_path, run_cli, tiny_models):
    from safetensors.torch import save_file

    from virnucpro.models.classifier import load_classifier

    state = {k: v.contiguous() for k, v in load_classifier(tiny_models.classifier).state_dict().items()}
    clf = tmp_path / "trained.safetensors"
    save_file(state, str(clf), metadata={"chunk_size": "300"})
    args = [*_models(tiny_models), "--classifier", clf, "--offline"]
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--chunk-size", "500", *args)
    assert code == 2 and "is for 300-bp chunks" in one_error_line(err)
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", "--chunk-size", "300", *args)
    assert code == 0 and "records no chunk size" not in err


def test_unknown_classifier_only_warns(tmp_path, run_cli, model_args):
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "o", *model_args)
    assert code == 0 and "records no chunk size" in err
