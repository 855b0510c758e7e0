"""The optional compiled record path (`virnucpro._prep`, built from `_prep.c` at install time).

Without a C compiler the install still succeeds and the numpy/dnaio paths do the same work, slower.
`VIRNUCPRO_PURE_PYTHON=1` switches the compiled path off (tests and benchmarks compare the two).
"""

from __future__ import annotations

import os
from types import ModuleType


def prep() -> ModuleType | None:
    """`virnucpro._prep` if it was built and is not switched off, else None."""
    if os.environ.get("VIRNUCPRO_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from virnucpro import _prep
    except ImportError:
        return None
    return _prep
