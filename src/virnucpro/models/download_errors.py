"""Why a download failed, in words a user can act on: name resolution, refused connection, HTTP status,
timeouts, TLS, a full disk; and what to do about each.

Download libraries wrap the real cause several layers deep (huggingface_hub -> httpx -> socket;
urllib -> URLError -> socket), so the chain of causes is walked until a known one is found.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Iterator


def offline_fix(flag: str = "") -> str:
    """The way out when a model cannot be fetched here; `flag` is the option that takes a local copy."""
    where = f"with {flag}" if flag else "with --dnabert DIR, --esm DIR, --classifier FILE"
    return f"run `virnucpro download` where there is internet (same --model-dir) or pass a local copy {where}"


def _chain(exc: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """The exception, its causes, contexts, `reason`s and exception arguments (depth-first, bounded)."""
    if depth > 8:
        return
    yield exc
    seen = [exc.__cause__, exc.__context__, getattr(exc, "reason", None), *getattr(exc, "args", ())]
    for inner in seen:
        if isinstance(inner, BaseException) and inner is not exc:
            yield from _chain(inner, depth + 1)


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)  # urllib.error.HTTPError
    if isinstance(code, int) and 100 <= code < 600:
        return code
    response = getattr(exc, "response", None)  # huggingface_hub / httpx / requests
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def describe(exc: BaseException, in_download_command: bool = False, flag: str = "") -> tuple[str, str]:
    """(cause, fix) for a failed download; the fix never tells `virnucpro download` to run itself.

    `flag` (e.g. `--esm DIR`) is the option through which the user can give a local copy instead.
    """
    network_fix = ("check the network or proxy (HTTPS_PROXY) and try again" if in_download_command else
                   f"check the network/proxy (HTTPS_PROXY) or {offline_fix(flag)}")
    found = _known_cause(exc, network_fix)
    if found is not None:
        return found
    if any(type(e).__name__ == "LocalEntryNotFoundError" for e in _chain(exc)):  # offline, and no network cause
        if in_download_command:
            return "downloads are switched off (HF_HUB_OFFLINE=1)", "unset HF_HUB_OFFLINE and try again"
        return "not in the cache and downloads are off (--offline or HF_HUB_OFFLINE=1)", offline_fix(flag)
    return f"{type(exc).__name__}: {str(exc)[:80]}", network_fix


def _known_cause(exc: BaseException, network_fix: str) -> tuple[str, str] | None:
    for e in _chain(exc):
        name = type(e).__name__
        status = _status(e)
        if name == "RepositoryNotFoundError" or status == 404:
            return "not found (HTTP 404)", "check the model id or URL (and --*-revision)"
        if name == "RevisionNotFoundError":
            return "no such revision", "check --dnabert-revision / --esm-revision"
        if name == "GatedRepoError" or status in (401, 403):
            return f"access denied (HTTP {status or 403})", "log in (`hf auth login` or HF_TOKEN) with access to it"
        if status is not None and status >= 400:
            return f"the server answered HTTP {status}", "try again later, " + network_fix
        if isinstance(e, socket.gaierror) or "Name or service not known" in str(e) or "nodename nor servname" in str(e):
            return "cannot resolve the server's name (no DNS / no internet on this node?)", network_fix
        if isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e):
            return "connection refused", network_fix
        if isinstance(e, (TimeoutError, socket.timeout)) or name in ("ConnectTimeout", "ReadTimeout", "TimeoutException"):
            return "the connection timed out", network_fix
        if isinstance(e, ssl.SSLError):
            return "TLS/SSL failure (a proxy or missing CA certificates?)", "set SSL_CERT_FILE / REQUESTS_CA_BUNDLE"
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return "no space left on the device", "free space in the model cache or choose another --model-dir"
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EROFS):
            return "the model cache is not writable", "choose a writable --model-dir"
    return None
