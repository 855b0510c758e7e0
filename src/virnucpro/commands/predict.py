"""`virnucpro predict`: its flags, turned into a PredictConfig for the orchestrator (`pipeline/run.py`)."""

from __future__ import annotations

import argparse

from virnucpro import argtypes as A
from virnucpro.argtypes import int_in
from virnucpro.commands import flags
from virnucpro.pipeline.run import PredictConfig, RandomWeights, run

__all__ = ["PredictConfig", "RandomWeights", "run"]


def add_parser(sub) -> None:
    p = flags.subparser(sub, "predict", "classify reads/contigs as viral or not (the whole method)",
                      "INPUT -> chunks -> six-frame ORFs -> DNABERT-S + ESM-2 embeddings -> classifier. "
                      "Resumable: rerun the same command after an interruption.")
    flags.input_args(p)
    flags.model_args(p)
    p.add_argument("--device", type=flags.device_arg, default="auto", help="auto (every GPU torch sees, i.e. "
                   "CUDA_VISIBLE_DEVICES; else the CPU), cpu, cuda, cuda:N, or a comma-separated list: one worker per "
                   "entry (cuda:0,cuda:1; cpu,cpu)")
    p.add_argument("--shard", type=flags.shard_arg, default=None, metavar="I/N", help="compute only shard I of N of the "
                   f"run's work units (one cluster job each; 1 <= I <= N <= {A.SHARDS[1]:,}); `virnucpro merge` joins "
                   "the shard directories")
    p.add_argument("--worker-timeout", type=int_in(*A.WORKER_TIMEOUT), default=600, help="seconds a busy device worker "
                   "may stay silent before the run stops (a hung GPU)")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16", "fp8"], default="auto",
                   help="auto = fp16 on GPU, fp32 on CPU; fp8 (opt-in, GPUs with FP8 tensor cores): ESM-2's linear "
                   "layers as FP8 matrix products, ~1.3x faster on an H200; it first checks itself on ~2,000 "
                   "frames of the input and falls back to fp8 on fc1+fc2 only, then fp16, when calls would change")
    p.add_argument("--no-precision-check", action="store_false", dest="precision_check", help="with --precision "
                   "fp8: skip that check (all four linears in fp8)")
    p.add_argument("--batch-tokens", type=int_in(*A.BATCH_TOKENS), default=None, help="ESM-2 packed tokens per "
                   "batch (default: from free GPU memory); DNABERT-S uses 4x")
    p.add_argument("--unit-frames", type=int_in(*A.UNIT_FRAMES), default=0, help="frames per committed work unit "
                   "(resume granularity; 0 = from the input: about 32 units, 8,192-65,536 frames on GPU, 256-4,096 "
                   "on CPU)")
    p.add_argument("--keep-intermediate", action="store_true", help="also keep the prepare FASTA files and "
                   "per-frame embeddings (safetensors)")
    p.add_argument("--resume", action="store_true", help="continue an unfinished run (also automatic)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto", help="torch.compile the per-token "
                   "blocks (auto: on for CUDA when the run embeds 50,000 frames or more; the kernels are cached "
                   "beside the models)")
    flags.region_args(p, default=flags.default_min_region_length())
    flags.sequence_args(p)
    flags.common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Flags -> PredictConfig -> the run."""
    refs = flags.model_refs(args)
    bt = args.batch_tokens or 0
    cfg = PredictConfig(
        inputs=args.inputs, paired=args.paired, output_dir=args.output_dir, chunk_size=args.chunk_size, models=refs,
        model_dir=args.model_dir, offline=args.offline, device=args.device, precision=args.precision,
        threads=args.threads, keep_intermediate=args.keep_intermediate, resume=args.resume, force=args.force,
        unit_frames=args.unit_frames, esm_batch_tokens=bt, dnabert_batch_tokens=4 * bt, progress=not args.quiet,
        compile=args.compile, worker_timeout=args.worker_timeout, shard=args.shard,
        precision_check=args.precision_check, min_region_length=args.min_region_length, sequences=args.sequences)
    run(cfg)
    return 0
