"""Command-line interface: `virnucpro prepare | predict | merge | workflow | report | check-precision | extract | train | download | benchmark`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from virnucpro import __version__
from virnucpro import argtypes as A
from virnucpro.argtypes import int_in
from virnucpro.errors import Stopped, VirnucproError, describe_os_error
from virnucpro.logs import setup_logging

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


def _verbosity(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output-dir", type=A.directory, required=True, help="directory for all outputs")
    p.add_argument("--threads", type=threads_arg, default=0, help="CPU threads for decompression, and for the "
                   "encoders when they run on the CPU; 0 = every core this job may use (more are bounded to that)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output directory")
    _verbosity(p)


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="FASTA/FASTQ (plain, gz, bz2, xz, zst) or unaligned "
                   "BAM file, several (read in order, one run), or '-' for stdin")
    p.add_argument("--paired", action="store_true", help="mate pairs: two mate files (R1 R2) or one interleaved file; "
                   "mates share an ID and become ID/1 and ID/2")
    p.add_argument("--chunk-size", type=int_in(*A.CHUNK_SIZE), default=500, help="chunk length in bp, "
                   f"{A.CHUNK_SIZE[0]}-{A.CHUNK_SIZE[1]} (300 or 500 select the published classifiers)")


def _add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="chunk and six-frame translate (the original's preparation step)",
                       formatter_class=DefaultsOnceFormatter,
                       description="Write chunks.fa, identified_nucleotide.fa and identified_protein.faa exactly "
                                   "as the original VirNucPro preparation step.")
    _input_args(p)
    _common(p)
    p.set_defaults(func=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from virnucpro import cmd_prepare

    cfg = cmd_prepare.PrepareConfig(inputs=args.inputs, paired=args.paired, output_dir=args.output_dir, chunk_size=args.chunk_size,
                                    threads=args.threads, force=args.force, progress=not args.quiet)
    cmd_prepare.run(cfg)
    return 0


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dnabert", default=DEFAULTS["dnabert"], help="DNABERT-S Hugging Face id or local directory")
    p.add_argument("--esm", default=DEFAULTS["esm"], help="ESM-2 Hugging Face id, HF directory or fair-esm .pt file")
    p.add_argument("--classifier", default=None, help="classifier .pth/.safetensors (default: the published one "
                   "for --chunk-size)")
    p.add_argument("--dnabert-revision", default=None, help="pin a hub revision (commit, tag or branch)")
    p.add_argument("--esm-revision", default=None, help="pin a hub revision (commit, tag or branch)")
    p.add_argument("--model-dir", type=A.directory, default=None, help="model cache (default $VIRNUCPRO_HOME or "
                   "~/.cache/virnucpro)")
    p.add_argument("--offline", action="store_true", help="never download; use cached or local models only")


def _model_refs(args: argparse.Namespace):
    from virnucpro.model_store import ModelRefs

    return ModelRefs(dnabert=args.dnabert, esm=args.esm, classifier=args.classifier,
                     revision_dnabert=args.dnabert_revision, revision_esm=args.esm_revision)


def _add_check_precision(sub) -> None:
    p = sub.add_parser("check-precision", help="measure how much --precision fp8 changes results on your data (exit 1: use fp16)",
                       formatter_class=DefaultsOnceFormatter,
                       description="Embed a deterministic sample of the input's chunks with fp16 and with the fast "
                                   "mode, using your models, and report embedding cosine, score differences and "
                                   "changed calls, with a verdict. Results go to stdout.")
    _input_args(p)
    _model_args(p)
    p.add_argument("--precision", choices=["fp8"], default="fp8", help="the fast mode to check against fp16")
    p.add_argument("--frames", type=int_in(*A.FRAMES), default=4000, help="frames to compare (whole chunks, spread "
                   "evenly over the input)")
    p.add_argument("--device", type=device_arg, default="auto", help="the GPU to use (auto: the first one torch sees)")
    p.add_argument("--json", type=Path, default=None, dest="json_out", help="also write the report as JSON here")
    p.add_argument("--threads", type=threads_arg, default=0, help="CPU threads for decompression; 0 = every core "
                   "this job may use")
    _verbosity(p)
    p.set_defaults(func=_run_check_precision)


def _run_check_precision(args: argparse.Namespace) -> int:
    from virnucpro import cmd_check_precision

    report = cmd_check_precision.run(cmd_check_precision.CheckConfig(
        inputs=args.inputs, paired=args.paired, chunk_size=args.chunk_size, models=_model_refs(args),
        model_dir=args.model_dir, offline=args.offline, device=args.device, precision=args.precision,
        frames=args.frames, threads=args.threads, json_out=args.json_out))
    return 1 if report["chosen"] == "fp16" else 0  # scripts: no fast rung is fit for this data


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="classify reads/contigs as viral or not (the whole method)",
                       formatter_class=DefaultsOnceFormatter,
                       description="INPUT -> chunks -> six-frame ORFs -> DNABERT-S + ESM-2 embeddings -> classifier. "
                                   "Resumable: rerun the same command after an interruption.")
    _input_args(p)
    _model_args(p)
    p.add_argument("--device", type=device_arg, default="auto", help="auto (every GPU torch sees, i.e. "
                   "CUDA_VISIBLE_DEVICES; else the CPU), cpu, cuda, cuda:N, or a comma-separated list: one worker per "
                   "entry (cuda:0,cuda:1; cpu,cpu)")
    p.add_argument("--shard", type=shard_arg, default=None, metavar="I/N", help="compute only shard I of N of the "
                   "run's work units (one cluster job each); `virnucpro merge` joins the shard directories")
    p.add_argument("--worker-timeout", type=int_in(*A.WORKER_TIMEOUT), default=600, help="seconds a busy device worker "
                   f"may stay silent before the run stops (a hung GPU), {A.WORKER_TIMEOUT[0]}-{A.WORKER_TIMEOUT[1]}")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16", "fp8"], default="auto",
                   help="auto = fp16 on GPU, fp32 on CPU; fp8 (opt-in, GPUs with FP8 tensor cores): ESM-2's linear "
                   "layers as FP8 matrix products, ~1.3x faster on an H200; it first checks itself on ~2,000 "
                   "frames of the input and falls back to fp8 on fc1+fc2 only, then fp16, when calls would change")
    p.add_argument("--no-precision-check", action="store_false", dest="precision_check", help="with --precision "
                   "fp8: skip that check (all four linears in fp8)")
    p.add_argument("--batch-tokens", type=int_in(*A.BATCH_TOKENS), default=None, help="ESM-2 packed tokens per "
                   f"batch, up to {A.BATCH_TOKENS[1]} (default: from free GPU memory); DNABERT-S uses 4x")
    p.add_argument("--unit-frames", type=int_in(*A.UNIT_FRAMES), default=0, help="frames per committed work unit "
                   "(resume granularity; 0 = from the input: about 32 units, 8,192-65,536 frames on GPU, 256-4,096 "
                   f"on CPU; at most {A.UNIT_FRAMES[1]})")
    p.add_argument("--keep-intermediate", action="store_true", help="also keep the prepare FASTA files and "
                   "per-frame embeddings (safetensors)")
    p.add_argument("--resume", action="store_true", help="continue an unfinished run (also automatic)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto", help="torch.compile the per-token "
                   "blocks (auto: on for CUDA)")
    _region_args(p, default=_default_min_region_length())
    _common(p)
    p.set_defaults(func=_run_predict)


def _default_min_region_length() -> int:
    from virnucpro.regions import DEFAULT_MIN_REGION_LENGTH

    return DEFAULT_MIN_REGION_LENGTH


def _region_args(p, default: int | None) -> None:
    """--min-region-length (predict: the value; merge: optional, must match the shards')."""
    p.add_argument("--min-region-length", type=int_in(*A.MIN_REGION_LENGTH), default=default, metavar="BP",
                   help="shortest viral region written to regions.tsv, in bp" + (
                       "" if default is not None else " (default: the shards' value; another value is refused)"))


def _run_predict(args: argparse.Namespace) -> int:
    from virnucpro import cmd_predict

    refs = _model_refs(args)
    bt = args.batch_tokens or 0
    cfg = cmd_predict.PredictConfig(
        inputs=args.inputs, paired=args.paired, output_dir=args.output_dir, chunk_size=args.chunk_size, models=refs,
        model_dir=args.model_dir, offline=args.offline, device=args.device, precision=args.precision,
        threads=args.threads, keep_intermediate=args.keep_intermediate, resume=args.resume, force=args.force,
        unit_frames=args.unit_frames, esm_batch_tokens=bt, dnabert_batch_tokens=4 * bt, progress=not args.quiet,
        compile=args.compile, worker_timeout=args.worker_timeout, shard=args.shard,
        precision_check=args.precision_check, min_region_length=args.min_region_length)
    cmd_predict.run(cfg)
    return 0


def _add_merge(sub) -> None:
    p = sub.add_parser("merge", help="join the shard directories of one `predict --shard I/N` run",
                       formatter_class=DefaultsOnceFormatter,
                       description="Check that the shards belong to one run and hold every work unit exactly once, "
                                   "then write the same outputs as one predict run, byte for byte.")
    p.add_argument("shard_dirs", nargs="+", type=A.directory, metavar="SHARD_DIR",
                   help="-o directories of the shard runs")
    p.add_argument("-o", "--output-dir", type=A.directory, required=True, help="directory for the merged outputs")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    _region_args(p, default=None)
    _verbosity(p)
    p.set_defaults(func=_run_merge)


def _run_merge(args: argparse.Namespace) -> int:
    from virnucpro import cmd_merge

    cmd_merge.run(cmd_merge.MergeConfig(shard_dirs=args.shard_dirs, output_dir=args.output_dir, force=args.force,
                                        min_region_length=args.min_region_length))
    return 0


def _add_workflow(sub) -> None:
    p = sub.add_parser("workflow", help="write a Snakemake workflow (many samples, shards, SLURM profile)",
                       formatter_class=DefaultsOnceFormatter)
    p.add_argument("directory", type=A.directory, help="where to write Snakefile, config.yaml, profiles/slurm/ and README.md")
    p.add_argument("--force", action="store_true", help="overwrite existing workflow files")
    _verbosity(p)
    p.set_defaults(func=_run_workflow)


def _run_workflow(args: argparse.Namespace) -> int:
    from virnucpro import cmd_workflow

    cmd_workflow.run(cmd_workflow.WorkflowConfig(directory=args.directory, force=args.force))
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="(re)build report.html of a finished run", formatter_class=DefaultsOnceFormatter,
                       description="Write DIR/report.html (self-contained: opens offline) from the run's tables and "
                                   "run_info.json. predict and merge write it themselves; this rebuilds it.")
    p.add_argument("run_dir", type=A.directory, metavar="DIR", help="-o directory of a finished predict or merge run")
    _verbosity(p)
    p.set_defaults(func=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from virnucpro import cmd_report

    cmd_report.run(cmd_report.ReportConfig(run_dir=args.run_dir))
    return 0


def _add_extract(sub) -> None:
    p = sub.add_parser("extract", help="per-frame DNABERT-S and ESM-2 embeddings (resumable, every GPU)",
                       formatter_class=DefaultsOnceFormatter,
                       description="The predict pipeline without a classifier: embeddings/unit_*.safetensors "
                                   "(dnabert_s, esm2 per frame; frame IDs in the metadata) and embeddings/index.json. "
                                   "Load all: `ids, dna, esm = virnucpro.cmd_extract.load(DIR)`.")
    _input_args(p)
    _model_args(p)
    p.add_argument("--device", type=device_arg, default="auto", help="auto (every GPU torch sees, else the CPU), "
                   "cpu, cuda, cuda:N, or a comma-separated list: one worker per entry")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto",
                   help="auto = fp16 on GPU, fp32 on CPU")
    p.add_argument("--unit-frames", type=int_in(*A.UNIT_FRAMES), default=0, help="frames per shard (resume "
                   f"granularity; 0 = 65536 on GPU, 4096 on CPU; at most {A.UNIT_FRAMES[1]})")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto", help="torch.compile the per-token "
                   "blocks (auto: on for CUDA)")
    _common(p)
    p.set_defaults(func=_run_extract)


def _run_extract(args: argparse.Namespace) -> int:
    from virnucpro import cmd_extract, cmd_predict

    cmd_extract.run(cmd_predict.PredictConfig(
        inputs=args.inputs, paired=args.paired, output_dir=args.output_dir, chunk_size=args.chunk_size,
        models=_model_refs(args), model_dir=args.model_dir, offline=args.offline, device=args.device,
        precision=args.precision, threads=args.threads, force=args.force, unit_frames=args.unit_frames,
        compile=args.compile, progress=not args.quiet))
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a classifier on your own viral and other references",
                       formatter_class=DefaultsOnceFormatter,
                       description="Frames as the original's training mode (GenBank: only frames inside annotated "
                                   "CDS, ambiguous chunks dropped; FASTA: prediction-mode frames), embedded once per "
                                   "input, then the original recipe. Writes classifier.safetensors for `predict "
                                   "--classifier`, metrics.json, report.html and virnucpro.log.")
    p.add_argument("--viral", nargs="+", required=True, metavar="FILE", help="viral references: GenBank (.gbk/.gbff, "
                   "with CDS translations) or FASTA, plain or compressed")
    p.add_argument("--other", nargs="+", required=True, metavar="FILE", help="non-viral references (host, bacteria), "
                   "same formats")
    p.add_argument("--chunk-size", type=int_in(*A.CHUNK_SIZE), default=500, help="chunk length in bp the classifier "
                   f"is for, {A.CHUNK_SIZE[0]}-{A.CHUNK_SIZE[1]}")
    p.add_argument("-o", "--output-dir", type=A.directory, required=True, help="directory for the classifier and reports")
    _model_args(p)
    p.add_argument("--device", type=device_arg, default="auto", help="where the encoders run (the first device "
                   "given is used)")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto",
                   help="encoder precision: auto = fp16 on GPU, fp32 on CPU")
    p.add_argument("--seed", type=int_in(*A.SEED), default=0, help="seed of the split, the initial weights and the "
                   f"batch order, 0-{A.SEED[1]}")
    p.add_argument("--max-epochs", type=int_in(*A.MAX_EPOCHS), default=200, help="upper bound on epochs (early stopping "
                   "usually ends sooner)")
    p.add_argument("--threads", type=threads_arg, default=0, help="CPU threads; 0 = every core this job may use")
    _verbosity(p)
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from virnucpro import cmd_train

    cmd_train.run(cmd_train.TrainConfig(
        viral=args.viral, other=args.other, output_dir=args.output_dir, chunk_size=args.chunk_size,
        models=_model_refs(args), model_dir=args.model_dir, offline=args.offline, device=args.device,
        precision=args.precision, seed=args.seed, max_epochs=args.max_epochs, threads=args.threads))
    return 0


def _add_download(sub) -> None:
    p = sub.add_parser("download", help="fetch all models into the cache (for offline compute nodes)",
                       formatter_class=DefaultsOnceFormatter)
    p.add_argument("--chunk-size", type=int, choices=[300, 500], nargs="+", default=[300, 500],
                   help="which published classifiers to fetch")
    p.add_argument("--dnabert", default=DEFAULTS["dnabert"], help="DNABERT-S Hugging Face id or local directory")
    p.add_argument("--esm", default=DEFAULTS["esm"], help="ESM-2 Hugging Face id, HF directory or fair-esm .pt file")
    p.add_argument("--classifier", default=None, help="a local classifier to check instead of fetching the published "
                   "one")
    p.add_argument("--model-dir", type=A.directory, default=None, help="model cache (default $VIRNUCPRO_HOME or "
                   "~/.cache/virnucpro)")
    _verbosity(p)
    p.set_defaults(func=_run_download)


def _run_download(args: argparse.Namespace) -> int:
    from virnucpro.model_store import ModelRefs, home_dir, resolve_all

    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.workdir import check_output_dir, held_directory

    home = home_dir(args.model_dir)
    check_output_dir(home)
    with held_directory(OutputPaths(home), "models") as session:  # one download at a time; never a run's directory
        session.claimed = True
        for cs in args.chunk_size:
            paths = resolve_all(ModelRefs(dnabert=args.dnabert, esm=args.esm, classifier=args.classifier), cs, home,
                                offline=False, in_download_command=True)
            print(f"chunk size {cs}: DNABERT-S {paths.dnabert}\n  ESM-2 {paths.esm}\n  classifier {paths.classifier}")
    return 0


def _add_benchmark(sub) -> None:
    p = sub.add_parser("benchmark", help="GPU benchmark with full-size random-weight models (no download)",
                       formatter_class=DefaultsOnceFormatter)
    p.add_argument("--encoder-frames", type=int_in(*A.FRAMES), default=40_000, help="frames per workload (W150, W500)")
    p.add_argument("--baseline-frames", type=int_in(*A.FRAMES), default=8_000, help="frames for the transformers "
                   "EsmModel baseline measured in the same process")
    p.add_argument("--e2e-reads", type=int_in(*A.READS), default=200_000, help="W150 reads for the end-to-end predict run (0: skip)")
    p.add_argument("--batch-tokens", type=int_in(0, A.BATCH_TOKENS[1]), default=0, help="ESM-2 tokens per batch (0: from free GPU memory)")
    p.add_argument("--no-compile", action="store_true", help="run the per-token blocks eagerly")
    p.add_argument("--devices", type=device_arg, default=None, help="instead: predict end to end on 1, 2, 4, ... of "
                   "these devices (e.g. cuda:0,cuda:1 or cuda:0,cuda:0), reporting the scaling")
    p.add_argument("--reads-per-device", type=int_in(1, A.READS[1]), default=200_000, help="W150 reads per device for --devices")
    p.add_argument("--fp8", action="store_true", help="instead: the fp8 fast mode against fp16 (ESM-2 3B tokens/s on "
                   "W500, W150 and mixed frames, predict end to end, agreement on random weights); --encoder-frames "
                   "and --e2e-reads then default to 12000 and 50000")
    p.add_argument("--fp8-parts", default="agreement,encoders,e2e", help="with --fp8: which parts to measure")
    p.add_argument("--out", type=Path, default=Path("bench/results/gpu.json"), help="where the result JSON goes")
    _verbosity(p)
    p.set_defaults(func=_run_benchmark)


def _run_benchmark(args: argparse.Namespace) -> int:
    import torch

    from virnucpro import benchmark
    from virnucpro.errors import InputError

    if args.devices is not None:
        return _run_scaling(args)
    if not torch.cuda.is_available():
        raise InputError("the benchmark needs a CUDA GPU and torch sees none: run it on a GPU node")
    if args.fp8:
        return _run_fp8_benchmark(args)
    bt = args.batch_tokens
    benchmark.run(benchmark.BenchConfig(encoder_frames=args.encoder_frames, baseline_frames=args.baseline_frames,
                                        e2e_reads=args.e2e_reads, esm_batch_tokens=bt, dnabert_batch_tokens=4 * bt,
                                        compile=not args.no_compile, out=args.out))
    return 0


class DefaultsOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default once: not when its help already says it, nor for None/False/0 defaults."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, 0, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors as one line (problem, then where to look), exit code 2."""

    def error(self, message: str):
        self.exit(2, f"virnucpro: error: {message} (see `{self.prog} --help`)\n")


def _run_fp8_benchmark(args: argparse.Namespace) -> int:
    from virnucpro.benchmark import _commit
    from virnucpro.benchmark_fp8 import Fp8BenchConfig, run_fp8
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
    from virnucpro.benchmark import _commit
    from virnucpro.benchmark_scaling import run_scaling
    from virnucpro.pipeline.devices import parse_devices, resolve_devices

    devices = resolve_devices(parse_devices(args.devices))
    run_scaling(devices, args.reads_per_device, args.out, _commit(), " ".join(sys.argv))
    return 0


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
    parser = OneLineParser(prog="virnucpro", description="Exact, fast VirNucPro: viral vs non-viral "
                                     "classification of DNA reads and contigs.")
    parser.add_argument("--version", action="version", version=version_string())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_prepare(sub)
    _add_predict(sub)
    _add_merge(sub)
    _add_workflow(sub)
    _add_report(sub)
    _add_check_precision(sub)
    _add_extract(sub)
    _add_train(sub)
    _add_download(sub)
    _add_benchmark(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input/models, 4 out of memory)."""
    args = create_parser().parse_args(argv)
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


def _report(exc: VirnucproError) -> int:
    logging.getLogger("virnucpro").debug("fatal: %s", exc)  # reaches the log file, if any
    print(f"virnucpro: error: {exc}", file=sys.stderr)
    return exc.exit_code
