"""Sample names: the one safe pattern a name must match before it becomes a directory or a link.

A sample name becomes OUTDIR/{sample}/ and a link in summary.html, so it may not climb out of the
results directory (`..`, `/`), hide itself (a leading dot), or carry a URL scheme or markup.
"""

from __future__ import annotations

import re
from urllib.parse import quote

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
RULE = "letters, digits, '.', '_', '+', '-', starting with a letter or digit, at most 128 characters"


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and bool(SAFE_NAME.match(name)) and ".." not in name


def check_sample_name(name: object, where: str = "") -> str:
    """`name` if it is a safe sample name.

    Raises:
        ValueError: naming the name, where it came from and the rule.
    """
    if not is_safe_name(name):
        at = f"{where}: " if where else ""
        raise ValueError(f"{at}sample name {str(name)[:60]!r} is not allowed: use {RULE}")
    return name  # type: ignore[return-value]


def relative_href(name: str, target: str) -> str | None:
    """`NAME/TARGET`, percent-encoded and always relative, or None when `name` is not a safe sample name.

    A safe name has no ':' and does not start with '/' or '.', so the link can carry no scheme and leave no folder.
    """
    if not is_safe_name(name):
        return None
    return quote(name, safe="") + "/" + quote(target, safe="/")
