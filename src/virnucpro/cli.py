"""Command-line interface: `virnucpro prepare | predict | download | benchmark`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from virnucpro import __version__
from virnucpro.errors import VirnucproError
from virnucpro.logs import setup_logging


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be a positive integer")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output-dir", type=Path, required=True, help="directory for all outputs")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for decompression and batching")
    p.add_argument("--force", action="store_true", help="overwrite an existing output directory")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")


def _add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="chunk and six-frame translate (the original's preparation step)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Write chunks.fa, identified_nucleotide.fa and identified_protein.faa exactly "
                                   "as the original VirNucPro preparation step.")
    p.add_argument("input", help="FASTA/FASTQ file (plain, gz, bz2, xz, zst) or '-' for stdin")
    p.add_argument("--chunk-size", type=positive_int, default=500, help="chunk length in bp (300 or 500 for the "
                   "published classifiers)")
    _common(p)
    p.set_defaults(func=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from virnucpro import cmd_prepare

    cfg = cmd_prepare.PrepareConfig(input=args.input, output_dir=args.output_dir, chunk_size=args.chunk_size,
                                    threads=args.threads, force=args.force, progress=not args.quiet)
    cmd_prepare.run(cfg)
    return 0


def create_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="virnucpro", description="Exact, fast VirNucPro: viral vs non-viral "
                                     "classification of DNA reads and contigs.")
    parser.add_argument("--version", action="version", version=f"virnucpro {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_prepare(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input/models, 4 out of memory)."""
    args = create_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    try:
        return args.func(args)
    except VirnucproError as exc:
        logging.getLogger("virnucpro").debug("fatal: %s", exc)  # reaches the log file, if any
        print(f"virnucpro: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("virnucpro: interrupted", file=sys.stderr)
        return 130
