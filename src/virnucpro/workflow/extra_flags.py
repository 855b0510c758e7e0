"""config.yaml's extra_args, by meaning: nothing the workflow sets itself, and nothing every shard job refuses.

The flags are read as `virnucpro predict` reads them, but without argparse's abbreviations (`--outp`
would otherwise mean `--output-dir`) and with short flags clustered (`-qo x` sets `-o`): what counts is
which of the workflow's own settings a parse of extra_args changes, not how the flag is spelled.
"""

from __future__ import annotations

import argparse
import contextlib
import io

from virnucpro.errors import InputError

INPUT = "input.fa"  # the sample's input, as the shard job passes it
OUT = "\x00shard-directory"  # the shard's -o, as the shard job passes it (a value no config can repeat)
UNSET = object()  # the default of every flag checked here: any other value was set by extra_args
OWN_DESTS = {"output_dir": "-o/--output-dir", "shard": "--shard", "device": "--device", "threads": "--threads",
             "chunk_size": "--chunk-size", "paired": "--paired", "force": "--force", "dnabert": "--dnabert",
             "esm": "--esm", "classifier": "--classifier", "model_dir": "--model-dir", "offline": "--offline"}
JOB_REFUSES = {"keep_intermediate": "--keep-intermediate: a shard job keeps no intermediate files (predict refuses "
                                    "it with --shard): remove it from extra_args"}


def check_extra_flags(args: list[str]) -> None:
    """extra_args (already split like a shell line) may set only what the workflow leaves to the user.

    Raises:
        InputError: an abbreviated or unknown flag, a flag or positional argument the workflow sets itself (also
            through a short-flag cluster), or a flag every shard job would refuse; one line naming it and the fix.
    """
    parser = _predict_parser()
    _refuse_abbreviations(args, parser)
    given = _parse(parser, args)
    if given.inputs != [INPUT]:
        extra = " ".join(map(str, given.inputs[1:]))[:60]
        raise InputError(f"config.yaml: extra_args names input files ({extra!r}): list a sample's inputs in "
                         "samples.tsv")
    for dest, flag in OWN_DESTS.items():
        if getattr(given, dest) is not UNSET and (dest != "output_dir" or str(given.output_dir) != OUT):
            raise InputError(f"config.yaml: extra_args sets {flag}, which the workflow sets itself: use its own key in "
                             "config.yaml instead (or leave it to the workflow)")
    for dest, reason in JOB_REFUSES.items():
        if getattr(given, dest) is not UNSET:
            raise InputError(f"config.yaml: extra_args {reason}")


def check_flags_for_device(text: str, device: str) -> None:
    """extra_args that every shard job on config.yaml's `device` refuses: `--precision fp8` on the CPU.

    Raises:
        InputError: naming the flag, the device and the fix.
    """
    import shlex

    if device.split(":")[0].split(",")[0] == "cpu" and _parse(_predict_parser(), shlex.split(text)).precision == "fp8":
        raise InputError("config.yaml: extra_args --precision fp8 needs FP8 tensor cores, but device is cpu: drop it, "
                         "or set device to GPUs with FP8 tensor cores")


def _refuse_abbreviations(args: list[str], parser: argparse.ArgumentParser) -> None:
    """`--outp` (a prefix of --output-dir), `--forc`, ...: every long flag must be spelled out."""
    options = sorted(parser._option_string_actions)
    own = {o for a in parser._actions if a.dest in OWN_DESTS for o in a.option_strings}
    for a in args:
        name = a.split("=", 1)[0]
        if not name.startswith("--") or name == "--" or name in options:
            continue
        full = [o for o in options if o.startswith(name)]
        what = f"an abbreviation of {' or '.join(full[:3])}" if full else "not a `virnucpro predict` flag"
        fix = (", which the workflow sets itself: use its own key in config.yaml" if own & set(full)
               else ": spell the flag out" if full else ": see `virnucpro predict --help`")
        raise InputError(f"config.yaml: extra_args flag {name[:40]!r} is {what}{fix}")


def _predict_parser() -> argparse.ArgumentParser:
    from virnucpro.cli import create_parser

    sub = next(a for a in create_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices["predict"]
    parser.allow_abbrev = False
    for action in parser._actions:
        if action.dest in OWN_DESTS or action.dest in JOB_REFUSES:
            action.default = UNSET
    return parser


def _parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace:
    """`predict INPUT -o OUT ARGS` parsed (a fresh parser each call); a usage error or --help is one InputError."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args([INPUT, "-o", OUT, *args])
    except SystemExit:
        reason = (err.getvalue().strip().splitlines()[-1:] or ["asks for help, not a run"])[0]
        raise InputError(f"config.yaml: extra_args {' '.join(args)[:60]!r}: "
                         f"{reason.removeprefix('virnucpro: error: ').removeprefix('virnucpro predict: error: ')}") \
            from None
