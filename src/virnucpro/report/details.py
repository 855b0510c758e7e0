"""The run's record as the report shows it: values used (not those requested), dates, devices, software, warnings."""

from __future__ import annotations

from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too

MISSING = "-"  # a value the run did not record (never a literal None)


def cell(value) -> str:
    """A table cell's text: `-` for a missing value, numbers with thousands separators."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def used_parameters(info: dict) -> dict[str, str]:
    """Each parameter as used: a requested `0`/`auto` shown with the value the run resolved (`auto -> fp16`)."""
    params = dict(info.get("parameters") or {})
    resolved = {"unit_frames": (info.get("plan") or {}).get("unit_frames"), "precision": info.get("precision"),
                "device_type": info.get("device"), "esm_batch_tokens": _per_device(info, "esm_batch_tokens"),
                "dnabert_batch_tokens": _per_device(info, "dnabert_batch_tokens")}
    shown = {}
    for key, value in params.items():
        used = resolved.get(key)
        if used is not None and str(used) != str(value):
            shown[key] = f"{cell(used)} (requested {cell(value)})"
        else:
            shown[key] = cell(value)
    return shown


def _per_device(info: dict, key: str):
    """A value each device recorded (a merge: each shard's devices), once if they agree, else all of them."""
    shards = [s for s in info.get("merged_from") or [] if isinstance(s, dict)]
    devices = list(info.get("devices") or []) + [d for s in shards for d in s.get("devices") or []]
    values = list(dict.fromkeys(d.get(key) for d in devices if isinstance(d, dict) and d.get(key) is not None))
    if len(values) <= 1:
        return values[0] if values else None
    return " / ".join(cell(v) for v in values)


def used_cuda(info: dict) -> bool:
    """Whether the run computed on a CUDA device (its record names one)."""
    names = [str(info.get("device", ""))] + [str(d.get("device", "")) for d in info.get("devices") or []
                                             if isinstance(d, dict)]
    return any(n.startswith("cuda") for n in names)


def software(info: dict) -> dict[str, str]:
    """Versions; torch's CUDA build only on a run that used CUDA (on a CPU run it says nothing of the device)."""
    versions = dict(info.get("versions") or {})
    cuda = versions.pop("cuda", None)
    if used_cuda(info) and cuda not in (None, "None"):
        versions["cuda (torch build)"] = cuda
    return {k: cell(v) for k, v in versions.items()}


def run_dates(info: dict) -> str:
    """`started ... finished ...` in words, or `-` for a run of an older version (no times recorded)."""
    started, finished = info.get("started"), info.get("finished")
    if not started and not finished:
        return "date not recorded (a run of an older version)"
    return f"started {cell(started)}, finished {cell(finished)}"


def warnings_section(info: dict) -> str:
    """The run's warnings as a list (run_info's `warnings`), or a line saying there were none."""
    warnings = [str(w) for w in info.get("warnings") or []]
    if not warnings:
        body = '<p class="note">No warnings.</p>' if "warnings" in info else \
            '<p class="note">Warnings not recorded (a run of an older version).</p>'
    else:
        body = "<ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings) + "</ul>"
    return f'<section id="warnings"><h2>Warnings ({len(warnings)})</h2>{body}</section>'


def devices_table(devices: list) -> str:
    """One row per device the run used; missing values as `-`."""
    devices = [d for d in devices or [] if isinstance(d, dict)]
    if not devices:
        return ""
    keys = list(dict.fromkeys(k for d in devices for k in d if not isinstance(d[k], (dict, list))))
    head = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in keys)
    rows = "".join("<tr>" + "".join(f"<td>{escape(cell(d.get(k)))}</td>" for k in keys) + "</tr>" for d in devices)
    return f'<table class="wide" id="devices"><caption>Devices</caption><tr>{head}</tr>{rows}</table>'


def input_label(path: str) -> str:
    """An input's name for a title: `stdin` for `-`, else the file's name."""
    from pathlib import Path

    return "stdin" if path == "-" else Path(path).name
