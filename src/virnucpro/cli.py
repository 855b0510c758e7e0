"""Command-line interface: assembles the subcommands (each declares its own flags in `virnucpro.commands`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from virnucpro import __version__
from virnucpro.errors import Stopped, VirnucproError, describe_os_error
from virnucpro.logs import remember_command, setup_logging

COMMANDS = ("prepare", "predict", "merge", "workflow", "report", "check_precision", "extract", "train", "download",
            "benchmark", "selftest")  # the order of `virnucpro --help`


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors as one line (problem, then where to look), exit code 2.

    `help_command` names the subcommand whose help to point at when the top-level parser reports an error about
    that subcommand's arguments (argparse reports unrecognized arguments from the top).
    """

    help_command: str | None = None

    def error(self, message: str):
        from virnucpro.shown import shown

        where = self.help_command or self.prog
        self.exit(2, f"virnucpro: error: {shown(message)} (see `{where} --help`)\n")


def version_string() -> str:
    """`virnucpro X.Y.Z`, plus the commit when running from a git checkout (an editable install)."""
    import subprocess

    src = Path(__file__).resolve().parent
    commit = ""
    if (src.parents[1] / ".git").exists():
        try:
            commit = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return f"virnucpro {__version__}" + (f" (commit {commit})" if commit else "")


def create_parser() -> argparse.ArgumentParser:
    import importlib

    parser = OneLineParser(prog="virnucpro", description="Exact, fast VirNucPro: viral vs non-viral "
                                     "classification of DNA reads and contigs.")
    parser.add_argument("--version", action="version", version=version_string())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"virnucpro.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (`errors.EXIT_CODES` names each). No arguments: the help."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # `virnucpro` alone asks what the tool can do: the command list, not an error
        create_parser().print_help()
        return 0
    parser = create_parser()
    parser.help_command = _subcommand(parser, argv)
    args = parser.parse_args(argv)
    remember_command(argv)
    setup_logging(args.verbose, args.quiet)
    try:
        return args.func(args)
    except Stopped as exc:
        print(f"virnucpro: {exc}: committed work is kept; run the same command again to resume", file=sys.stderr)
        return exc.exit_code
    except VirnucproError as exc:
        return _report(exc)
    except OSError as exc:  # disk full, read-only or unwritable output location, I/O errors
        return _report(describe_os_error(exc))
    except KeyboardInterrupt:
        print("virnucpro: interrupted", file=sys.stderr)
        return 130


def _subcommand(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """`virnucpro CMD` when argv starts with a subcommand's name, else None."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return f"virnucpro {argv[0]}" if argv and argv[0] in sub.choices else None


def _report(exc: VirnucproError) -> int:
    logging.getLogger("virnucpro").debug("fatal: %s", exc)  # reaches the log file, if any
    from virnucpro.shown import shown

    print(f"virnucpro: error: {shown(exc)}", file=sys.stderr)  # a path's newline or U+202E never forges a line
    return exc.exit_code
