"""A throw-away place for the self-test: a temporary directory that is also $HOME, the caches and the cwd.

Everything the self-test (and anything it imports: Hugging Face, torch.compile, Triton, the CUDA JIT)
could write goes under it, downloads are off, and on exit the directory is removed and the process's
environment and working directory are put back as they were.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

CACHE_VARIABLES = {  # variable -> folder under the sandbox
    "HOME": "home",
    "XDG_CACHE_HOME": "home/.cache",
    "VIRNUCPRO_HOME": "model_cache",
    "HF_HOME": "home/.cache/huggingface",
    "TORCHINDUCTOR_CACHE_DIR": "home/.cache/inductor",
    "TRITON_CACHE_DIR": "home/.cache/triton",
    "CUDA_CACHE_PATH": "home/.cache/nv",
}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """Yield a fresh directory that is the cwd, $HOME and every cache until the block ends; then remove it."""
    cwd = os.getcwd()
    saved = {k: os.environ.get(k) for k in (*CACHE_VARIABLES, *OFFLINE)}
    with tempfile.TemporaryDirectory(prefix="virnucpro-selftest-") as tmp:
        root = Path(tmp)
        try:
            for name, sub in CACHE_VARIABLES.items():
                (root / sub).mkdir(parents=True, exist_ok=True)
                os.environ[name] = str(root / sub)
            os.environ.update(OFFLINE)
            os.chdir(root)
            yield root
        finally:
            os.chdir(cwd)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
