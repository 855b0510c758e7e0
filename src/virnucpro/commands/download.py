"""`virnucpro download`: fetch (or check) the published models into a model directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from virnucpro import argtypes as A
from virnucpro.commands import flags


def add_parser(sub) -> None:
    p = sub.add_parser("download", help="fetch all models into the cache (for offline compute nodes)",
                       formatter_class=flags.DefaultsOnceFormatter,
                       description="Fetch the published models once, on a machine with internet: ESM-2 3B "
                                   "(facebook/esm2_t36_3B_UR50D, about 11 GB), DNABERT-S (zhihan1996/DNABERT-S, about "
                                   "0.5 GB) and the classifiers for 300- and 500-bp chunks (a few MB), about 12 GB in "
                                   "all, into the model cache ($VIRNUCPRO_HOME, else ~/.cache/virnucpro, or "
                                   "--model-dir). What is cached already is checked, not fetched again. Then run "
                                   "predict anywhere with the same --model-dir and --offline.")
    p.add_argument("--chunk-size", type=int, choices=[300, 500], nargs="+", default=[300, 500],
                   help="which published classifiers to fetch")
    p.add_argument("--dnabert", default=flags.DEFAULTS["dnabert"], help="DNABERT-S Hugging Face id or local directory")
    p.add_argument("--esm", default=flags.DEFAULTS["esm"], help="ESM-2 Hugging Face id, HF directory or fair-esm .pt file")
    p.add_argument("--classifier", default=None, help="a local classifier to check instead of fetching the published "
                   "one")
    p.add_argument("--model-dir", type=A.directory, default=None, help="model cache (default $VIRNUCPRO_HOME or "
                   "~/.cache/virnucpro)")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from virnucpro.io.hashing import sha256_model
    from virnucpro.models.store import ModelRefs, home_dir, resolve_all

    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.workdir import check_output_dir, held_directory

    home = home_dir(args.model_dir)
    check_output_dir(home)
    with held_directory(OutputPaths(home), "models") as session:  # one download at a time; never a run's directory
        session.claimed = True
        for cs in args.chunk_size:
            paths = resolve_all(ModelRefs(dnabert=args.dnabert, esm=args.esm, classifier=args.classifier), cs, home,
                                offline=False, in_download_command=True)
            for model in (paths.dnabert, paths.esm, paths.classifier):  # hashed here once, not by the first run
                sha256_model(model, paths.records)
            print(f"chunk size {cs}: DNABERT-S {paths.dnabert}\n  ESM-2 {paths.esm}\n  classifier {paths.classifier}")
    return 0
