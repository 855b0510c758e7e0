"""`virnucpro benchmark`: the GPU benchmark, its fp8 and several-device variants."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from virnucpro.argtypes import int_in
from virnucpro import argtypes as A
from virnucpro.commands import flags
from virnucpro.errors import VirnucproError


def add_parser(sub) -> None:
    p = sub.add_parser("benchmark", help="GPU benchmark with full-size random-weight models (no download)",
                       formatter_class=flags.DefaultsOnceFormatter,
                       description="Measure speed on this machine's GPU with full-size ESM-2 3B and DNABERT-S built "
                                   "with random weights (no download; speed does not depend on weight values): the "
                                   "encoders on 150- and 500-bp frames against the transformers baseline, then predict "
                                   "end to end. --fp8 measures the fast mode instead, --devices the scaling over "
                                   "several devices. Results go to --out as JSON; work lies in a temporary directory "
                                   "(an interrupted benchmark starts over).")
    p.add_argument("--encoder-frames", type=int_in(*A.FRAMES), default=40_000, help="frames per workload (W150, W500)")
    p.add_argument("--baseline-frames", type=int_in(*A.FRAMES), default=8_000, help="frames for the transformers "
                   "EsmModel baseline measured in the same process")
    p.add_argument("--e2e-reads", type=int_in(*A.READS), default=200_000, help="W150 reads for the end-to-end predict run (0: skip)")
    p.add_argument("--batch-tokens", type=int_in(0, A.BATCH_TOKENS[1]), default=0, help="ESM-2 tokens per batch (0: from free GPU memory)")
    p.add_argument("--no-compile", action="store_true", help="run the per-token blocks eagerly")
    p.add_argument("--no-startup", action="store_false", dest="startup", help="skip the start-up anatomy (a 20-read "
                   "predict with full-size models written to a temporary directory, ~12 GB, cold then warm)")
    p.add_argument("--devices", type=flags.device_arg, default=None, help="instead: predict end to end on 1, 2, 4, ... of "
                   "these devices (e.g. cuda:0,cuda:1 or cuda:0,cuda:0), reporting the scaling")
    p.add_argument("--reads-per-device", type=int_in(1, A.READS[1]), default=200_000, help="W150 reads per device for --devices")
    p.add_argument("--fp8", action="store_true", help="instead: the fp8 fast mode against fp16 (ESM-2 3B tokens/s on "
                   "W500, W150 and mixed frames, predict end to end, agreement on random weights); --encoder-frames "
                   "and --e2e-reads then default to 12000 and 50000")
    p.add_argument("--fp8-parts", default="agreement,encoders,e2e", help="with --fp8: which parts to measure")
    p.add_argument("--out", type=Path, default=Path("bench/results/gpu.json"), help="where the result JSON goes")
    p.add_argument("--ledger", type=Path, nargs="?", const=Path("bench/results/ledger.jsonl"), default=None,
                   help="append one line for this commit to the performance ledger (default file when given alone)")
    p.add_argument("--gpu-tests", type=Path, default=None, help="with --ledger: the output of `pytest -m gpu`, whose "
                   "summary line (passed/failed) goes into the ledger line")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the chosen benchmark; a failure or a stop says it starts over (its work lies in a temporary directory)."""
    from virnucpro.errors import Stopped, WorkerError, describe_os_error

    try:
        return _main(args)
    except (Stopped, WorkerError, OSError) as exc:
        raise _starts_over(describe_os_error(exc) if isinstance(exc, OSError) else exc) from None


def _starts_over(exc: VirnucproError) -> VirnucproError:
    """The same error without the resume promise of a predict run (the benchmark keeps no work to resume)."""
    from virnucpro.errors import Stopped

    text = str(exc).split(": committed units are kept")[0].split(", then rerun the same command")[0]
    if isinstance(exc, Stopped):
        text = f"stopped by {exc.signal_name}"
    out = VirnucproError(f"benchmark {text}: it keeps no work (a temporary directory): run it again from the start")
    out.exit_code = exc.exit_code
    return out


def _main(args: argparse.Namespace) -> int:
    import torch

    from virnucpro.benchmarking import gpu as benchmark
    from virnucpro.errors import InputError

    if args.devices is not None:
        return _run_scaling(args)
    if not torch.cuda.is_available():
        raise InputError("the benchmark needs a CUDA GPU and torch sees none: run it on a GPU node")
    if args.fp8:
        return _run_fp8_benchmark(args)
    bt = args.batch_tokens
    result = benchmark.run(benchmark.BenchConfig(encoder_frames=args.encoder_frames,
                                                 baseline_frames=args.baseline_frames, e2e_reads=args.e2e_reads,
                                                 esm_batch_tokens=bt, dnabert_batch_tokens=4 * bt,
                                                 compile=not args.no_compile, startup=args.startup, out=args.out))
    if args.ledger is not None:
        _append_ledger(args.ledger, result, args.gpu_tests)
    return 0


def _append_ledger(path: Path, result: dict, gpu_tests: Path | None) -> None:
    from virnucpro.benchmarking import ledger

    tests = gpu_tests.read_text(encoding="utf-8", errors="replace") if gpu_tests and gpu_tests.is_file() else None
    line = ledger.ledger_line(result, tests)
    ledger.append(path, line)
    print(f"ledger: {path} += {line}")


def _run_fp8_benchmark(args: argparse.Namespace) -> int:
    from virnucpro.benchmarking.gpu import _commit
    from virnucpro.benchmarking.fp8 import Fp8BenchConfig, run_fp8
    from virnucpro.pipeline.devices import check_fp8

    check_fp8(["cuda"])
    cfg = Fp8BenchConfig(parts=[x for x in args.fp8_parts.split(",") if x])
    if args.out != Path("bench/results/gpu.json"):  # the other benchmark's defaults: keep this one's
        cfg.out = args.out
    if args.encoder_frames != 40_000:
        cfg.encoder_frames = args.encoder_frames
    if args.e2e_reads != 200_000:
        cfg.e2e_reads = args.e2e_reads
    run_fp8(cfg, _commit(), " ".join(sys.argv))
    return 0


def _run_scaling(args: argparse.Namespace) -> int:
    from virnucpro.benchmarking.gpu import _commit
    from virnucpro.benchmarking.scaling import run_scaling
    from virnucpro.pipeline.devices import parse_devices, resolve_devices

    devices = resolve_devices(parse_devices(args.devices))
    if devices[0] == "cpu":
        _warn_cpu(len(devices), args.reads_per_device)
    run_scaling(devices, args.reads_per_device, args.out, _commit(), " ".join(sys.argv))
    return 0


def _warn_cpu(workers: int, reads_per_device: int) -> None:
    import logging

    logging.getLogger("virnucpro").warning(
        "benchmark --devices on the CPU: every worker builds the full-size ESM-2 3B and DNABERT-S (about 12 GB of "
        "memory each, %d GB in all) and embeds %s reads per worker on the CPU, which takes hours; the benchmark "
        "measures GPUs (a smaller --reads-per-device gives a quick CPU figure)", 12 * workers,
        f"{reads_per_device:,}")
