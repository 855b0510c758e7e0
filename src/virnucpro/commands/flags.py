"""Flags several subcommands share (inputs, models, outputs, verbosity), their types and the help formatter."""

from __future__ import annotations

import argparse

from virnucpro import argtypes as A
from virnucpro.argtypes import int_in

DEFAULTS = {"dnabert": "zhihan1996/DNABERT-S", "esm": "facebook/esm2_t36_3B_UR50D"}


def device_arg(text: str) -> str:
    """--device: auto, cpu, cuda, cuda:N or a comma-separated list (checked before anything is written)."""
    from virnucpro.pipeline.devices import parse_devices

    try:
        parse_devices(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def shard_arg(text: str) -> str:
    """--shard I/N with 1 <= I <= N."""
    from virnucpro.pipeline.shards import ShardSpec

    try:
        return ShardSpec.parse(text).describe()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


threads_arg = int_in(*A.THREADS, "0 = every core this job may use")


def verbosity(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")


ENCODER_THREADS = ("CPU threads for decompression, and for the encoders when they run on the CPU; 0 = every core "
                   "this job may use (its CPU affinity, at most OMP_NUM_THREADS or SLURM_CPUS_PER_TASK when set; more "
                   "are bounded to that); on a shared machine whose cores other processes keep busy, fewer threads "
                   "are faster: a warning names how many")
FORCE = ("start over: first remove what an earlier run wrote in -o (virnucpro's own files only: tables, work units, "
         "run_info.json, log); anything else there is left alone")


def common(p: argparse.ArgumentParser, threads_help: str = ENCODER_THREADS, force_help: str = FORCE) -> None:
    p.add_argument("-o", "--output-dir", type=A.directory, required=True, help="directory for all outputs")
    p.add_argument("--threads", type=threads_arg, default=0, help=threads_help)
    p.add_argument("--force", action="store_true", help=force_help)
    verbosity(p)


def input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="FASTA/FASTQ (plain, gz, bz2, xz, zst) or unaligned "
                   "BAM file, several (read in order, one run), or '-' for stdin")
    p.add_argument("--paired", action="store_true", help="mate pairs: two mate files (R1 R2) or one interleaved file; "
                   "mates share an ID and become ID/1 and ID/2")
    p.add_argument("--chunk-size", type=int_in(*A.CHUNK_SIZE), default=500, help="chunk length in bp "
                   "(300 or 500 select the published classifiers)")


def model_args(p: argparse.ArgumentParser, classifier: bool = True) -> None:
    """The model flags; `classifier=False` (extract, train: encoders only) keeps --classifier out of --help.

    There --classifier is still accepted, and ignored with a warning (`unused_classifier`), so shared
    argument lists keep working.
    """
    p.add_argument("--dnabert", default=DEFAULTS["dnabert"], help="DNABERT-S Hugging Face id or local directory")
    p.add_argument("--esm", default=DEFAULTS["esm"], help="ESM-2 Hugging Face id, HF directory or fair-esm .pt file")
    p.add_argument("--classifier", default=None, help="classifier .pth/.safetensors (default: the published one "
                   "for --chunk-size)" if classifier else argparse.SUPPRESS)
    p.add_argument("--dnabert-revision", default=None, help="pin a hub revision (commit, tag or branch)")
    p.add_argument("--esm-revision", default=None, help="pin a hub revision (commit, tag or branch)")
    p.add_argument("--model-dir", type=A.directory, default=None, help="model cache (default $VIRNUCPRO_HOME or "
                   "~/.cache/virnucpro)")
    p.add_argument("--offline", action="store_true", help="never download; use cached or local models only")


def unused_classifier(args: argparse.Namespace, command: str, why: str) -> None:
    """Warn that --classifier was given to a command that uses no classifier."""
    import logging

    if args.classifier is not None:
        logging.getLogger("virnucpro").warning("--classifier %s is not used: %s %s", args.classifier, command, why)


def model_refs(args: argparse.Namespace):
    from virnucpro.models.store import ModelRefs

    return ModelRefs(dnabert=args.dnabert, esm=args.esm, classifier=args.classifier,
                     revision_dnabert=args.dnabert_revision, revision_esm=args.esm_revision)


def default_min_region_length() -> int:
    from virnucpro.models.regions import DEFAULT_MIN_REGION_LENGTH

    return DEFAULT_MIN_REGION_LENGTH


def region_args(p, default: int | None) -> None:
    """--min-region-length (predict: the value; merge: optional, must match the shards')."""
    p.add_argument("--min-region-length", type=int_in(*A.MIN_REGION_LENGTH), default=default, metavar="BP",
                   help="shortest viral region written to regions.tsv, in bp" + (
                       "" if default is not None else " (default: the shards' value; another value is refused)"))


def sequence_args(p) -> None:
    """--no-sequences (predict and merge)."""
    p.add_argument("--no-sequences", action="store_false", dest="sequences", help="write the tables only: no viral.fa/"
                   "viral.fq (viral_R1/R2 with --paired), regions.fa or regions.gff3")


class DefaultsOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default once: not when its help already says it, nor for None/False/0 defaults, nor for a
    switch that takes no value (`--no-precision-check`: its stored True is no choice the user makes).

    A bounded integer flag (`argtypes.int_in`) also shows its range, as `[low-high]`.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = with_range(action)
        if "default" in text or action.default in (None, False, 0, argparse.SUPPRESS) or action.nargs == 0:
            return text
        if "%(default)" in text or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)):
            return text
        return text + " (default: %(default)s)"


def with_range(action: argparse.Action) -> str:
    """The action's help with `[low-high]` appended when its type is bounded (help texts never write the range)."""
    text = action.help or ""
    bounds = getattr(action.type, "bounds", None)
    if bounds is None or text == argparse.SUPPRESS:
        return text
    return f"{text} [{A.range_text(*bounds)}]"


def subparser(sub, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:  # noqa: A002
    """A subcommand's parser with the shared help formatter."""
    return sub.add_parser(name, help=help, description=description, formatter_class=DefaultsOnceFormatter)
