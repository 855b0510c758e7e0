"""Download failures name the real cause (DNS, refused, HTTP status, disk full) and a fix that fits the command."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        status = int(self.path.strip("/").split("/")[0] or 200)
        self.send_response(status)
        self.end_headers()
        if status == 200:
            self.wfile.write(b"x" * (256 << 10))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _download(run_cli, monkeypatch, tmp_path, url: str, *extra):
    monkeypatch.setenv("VIRNUCPRO_CLASSIFIER_URL", url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    from virnucpro.models.store import download_classifier

    return download_classifier(500, tmp_path / "cache" / "500_model.pth", *extra)


@pytest.mark.parametrize("url,cause", [
    ("{server}/404/{{cs}}_model.pth", "HTTP 404"),
    ("{server}/503/{{cs}}_model.pth", "HTTP 503"),
    ("http://127.0.0.1:{port}/{{cs}}_model.pth", "connection refused"),
    ("http://no-such-host.invalid/{{cs}}_model.pth", "cannot resolve"),
])
@pytest.mark.parametrize("in_download_command", [False, True])
def test_classifier_download_errors_name_the_cause(url, cause, in_download_command, server, run_cli, monkeypatch,
                                                   tmp_path):
    from virnucpro.errors import ModelError

    with pytest.raises(ModelError) as exc:
        _download(run_cli, monkeypatch, tmp_path, url.format(server=server, port=_free_port()), in_download_command)
    msg = str(exc.value)
    assert cause in msg and len(msg) < 300, msg
    assert ("`virnucpro download`" in msg) != in_download_command or "404" in cause, msg
    assert not list((tmp_path / "cache").glob(".*tmp*"))


def test_classifier_download_disk_full(server, run_cli, monkeypatch, tmp_path):
    from virnucpro.errors import ModelError

    cache = tmp_path / "cache"
    cache.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(cache)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with pytest.raises(ModelError) as exc:
            _download(run_cli, monkeypatch, tmp_path, f"{server}/200/{{cs}}_model.pth")
        assert "no space left" in str(exc.value) and "--model-dir" in str(exc.value)
        assert list(cache.iterdir()) == []
    finally:
        subprocess.run(["umount", str(cache)], capture_output=True)


@pytest.mark.parametrize("endpoint,cause", [("{server}/404", "404"), ("http://127.0.0.1:{port}", "connection refused")])
def test_hub_download_error_names_the_cause(endpoint, cause, server, tmp_path):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}  # huggingface_hub reads it at import
    env["HF_ENDPOINT"] = endpoint.format(server=server, port=_free_port())
    proc = subprocess.run([sys.executable, "-m", "virnucpro", "download", "--model-dir", str(tmp_path / "cache"),
                           "--chunk-size", "500"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if "error:" in ln][0]
    assert cause in line, line
    assert "could not be downloaded" in line and "`virnucpro download`" not in line and len(line) < 300, line
