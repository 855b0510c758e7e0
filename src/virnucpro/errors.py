"""User-facing errors: each carries a one-line message (problem + fix) and an exit code."""

from __future__ import annotations


class VirnucproError(Exception):
    """An error the CLI reports as one line, without a traceback."""

    exit_code = 1


class InputError(VirnucproError):
    """Bad input data or arguments (exit code 2)."""

    exit_code = 2


class ModelError(VirnucproError):
    """A model or weight file is missing, malformed or unsafe (exit code 2)."""

    exit_code = 2


class ResumeError(VirnucproError):
    """An output directory cannot be resumed or would be overwritten (exit code 2)."""

    exit_code = 2


class OutOfMemoryError(VirnucproError):
    """A single sequence does not fit on the device even alone (exit code 4)."""

    exit_code = 4
