"""Paths, names and messages as humans see them: control and hidden format characters escaped, never raw.

One function renders text for the log, error messages and pages, so a file name with a newline cannot forge
a log line and one with U+202E (right-to-left override) cannot reorder the text around it on a report.
"""

from __future__ import annotations

import html
import os
import re

# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text (bidi overrides and
# isolates, zero-width marks, line and paragraph separators)
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(path: object) -> str:
    """`path` for a log line, an error message or a page: every control or hidden format character escaped
    (`\\n`, `\\x1b`, `\\u202e`), so a file name can neither forge a log line nor reorder the text around it."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    try:  # a path's undecodable bytes (surrogate escapes) as \xNN
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _HIDDEN.sub(_escape, text)


def _escape(match: re.Match) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def shown_html(value: object, quote: bool = True) -> str:
    """`shown(value)`, escaped for HTML text and attribute values."""
    return html.escape(shown(value), quote=quote)
