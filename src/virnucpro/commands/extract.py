"""`virnucpro extract`: the per-frame DNABERT-S and ESM-2 embeddings of an input, for training or analysis.

The predict pipeline without a classifier (same engine, work units, resume, devices): every unit's
embeddings are one safetensors part `embeddings/unit_NNNNNNN.safetensors` (`dnabert_s` (F, 768) and
`esm2` (F, 2560) float32, frame IDs in the metadata), listed in order by `embeddings/index.json`.
"""

from __future__ import annotations

import argparse
import dataclasses

from virnucpro.pipeline import run as pipeline
from virnucpro.argtypes import int_in
from virnucpro import argtypes as A
from virnucpro.commands import flags


def run(cfg: pipeline.PredictConfig) -> dict:
    """Extract with `cfg` (inputs, models, devices, ...); returns run_info."""
    return pipeline.run(dataclasses.replace(cfg, extract=True))


def load(directory: str):
    """(frame IDs, dnabert_s (F, 768), esm2 (F, 2560)) numpy arrays of a finished extract directory.

    Every file is verified first: run_info.json's record of index.json, index.json's checksum of each part,
    each part's own checksum, unit index and row count.

    Raises:
        InputError: the directory is not a finished extract run, or a file in it is missing or damaged
            (the message names the file).
    """
    import json
    from pathlib import Path

    import numpy as np

    from virnucpro.errors import InputError
    from virnucpro.pipeline.claim import damaged_outputs
    from virnucpro.pipeline.outputs import OutputPaths, index_parts
    from virnucpro.pipeline.run_info import load_info
    from virnucpro.sealed import load_sealed

    out = OutputPaths(Path(directory))
    info = load_info(out.run_info)
    if info.get("status") != "complete" or info.get("parameters", {}).get("mode") != "extract":
        raise InputError(f"{str(out.root)!r} is not a finished `virnucpro extract` run (status "
                         f"{info.get('status')!r}): rerun the extract command to finish it")
    bad = damaged_outputs(out, info)
    if bad is not None:
        raise InputError(f"{str(out.root / bad)!r} is missing or damaged: rerun the extract command with --force")
    ids, dna, esm = [], [], []
    for part in index_parts(json.loads(out.embeddings_index.read_text())):
        tensors, meta = load_sealed(out.embeddings / part["file"])  # verified just above
        ids += json.loads(meta["ids"])
        dna.append(tensors["dnabert_s"].numpy())
        esm.append(tensors["esm2"].numpy())
    if not dna:
        return ids, np.zeros((0, 768), np.float32), np.zeros((0, 2560), np.float32)
    return ids, np.concatenate(dna), np.concatenate(esm)


def add_parser(sub) -> None:
    p = flags.subparser(sub, "extract", "per-frame DNABERT-S and ESM-2 embeddings (resumable, every GPU)",
                      "The predict pipeline without a classifier: embeddings/unit_*.safetensors "
                      "(dnabert_s, esm2 per frame; frame IDs in the metadata) and embeddings/index.json. "
                      "Load all: `ids, dna, esm = virnucpro.commands.extract.load(DIR)`.")
    flags.input_args(p)
    flags.model_args(p, classifier=False)
    p.add_argument("--device", type=flags.device_arg, default="auto", help="auto (every GPU torch sees, else the CPU), "
                   "cpu, cuda, cuda:N, or a comma-separated list: one worker per entry")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto",
                   help="auto = fp16 on GPU, fp32 on CPU")
    p.add_argument("--unit-frames", type=int_in(*A.UNIT_FRAMES), default=0, help="frames per part, i.e. per "
                   "embeddings file and resume unit (0 = from the input: about 32 parts, 8,192-65,536 frames on GPU, "
                   "256-4,096 on CPU)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto", help="torch.compile the per-token "
                   "blocks (auto: on for CUDA when the run embeds 50,000 frames or more; the kernels are cached "
                   "beside the models)")
    flags.common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from virnucpro.commands import predict as cmd_predict

    flags.unused_classifier(args, "extract", "writes the encoders' embeddings only")
    run(cmd_predict.PredictConfig(
        inputs=args.inputs, paired=args.paired, output_dir=args.output_dir, chunk_size=args.chunk_size,
        models=flags.model_refs(args), model_dir=args.model_dir, offline=args.offline, device=args.device,
        precision=args.precision, threads=args.threads, force=args.force, unit_frames=args.unit_frames,
        compile=args.compile, progress=not args.quiet))
    return 0
