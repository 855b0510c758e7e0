"""`virnucpro prepare`: the original's preparation step as files (chunks, kept frames, proteins)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from virnucpro import __version__, compiled
from virnucpro.atomic import atomic_files, write_atomic
from virnucpro.cpus import effective_threads
from virnucpro.errors import ResumeError
from virnucpro.io.fasta_out import format_prepared
from virnucpro.logs import run_log
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.prep.prepare import prepare_batch
from virnucpro.progress import progress_bar
from virnucpro.io.seqio import ReadStats, RecordBatch, read_inputs
from virnucpro.pipeline.ownership import check_inputs_survive
from virnucpro.pipeline.workdir import check_output_dir, held_directory
from virnucpro.commands import flags

log = logging.getLogger("virnucpro")


@dataclass
class PrepareConfig:
    """Parameters of `virnucpro prepare`."""

    inputs: list[str]  # read in order; with `paired`: R1 R2, or one interleaved file
    output_dir: Path
    chunk_size: int = 500
    threads: int = 0  # 0 = every core this process may use
    force: bool = False
    batch_size: int = 16384
    progress: bool = True
    paired: bool = False


def run(cfg: PrepareConfig) -> dict:
    """Stream the input, write the three FASTA files atomically, return the counts."""
    out = OutputPaths(Path(cfg.output_dir))
    check_output_dir(out.root)
    cfg.threads = effective_threads(cfg.threads)
    check_inputs_survive(out, cfg.inputs, [*out.prepare_files(), out.run_info])
    with held_directory(out, "prepare") as session:
        summary = _prepare(cfg, out)
        session.claimed = True
    return summary


def _prepare(cfg: PrepareConfig, out: OutputPaths) -> dict:
    """With the directory held: refuse existing outputs without --force, write the three files, then run_info."""
    _claim_output_dir(out, cfg.force)
    with run_log(out.log):
        return _write_all(cfg, out)


def _write_all(cfg: PrepareConfig, out: OutputPaths) -> dict:
    """Stream the input into the three files, then write run_info; the counts."""
    stats, counts, t0 = ReadStats(), {"chunks": 0, "frames": 0}, time.perf_counter()
    prep = compiled.prep()
    buffers = [bytearray() for _ in range(3)]  # the compiled path's reused output buffers
    with atomic_files(out.prepare_files(), "wb") as files, \
            progress_bar("prepare", "records", enabled=cfg.progress) as bar:
        for batch in read_inputs(cfg.inputs, cfg.batch_size, stats, cfg.threads, cfg.paired):
            n_chunks, n_frames = _write_batch(batch, cfg.chunk_size, prep, files, buffers)
            counts["chunks"] += n_chunks
            counts["frames"] += n_frames
            bar.update(len(batch.ids))
    seconds = time.perf_counter() - t0
    summary = {"records": stats.records, "empty_records_skipped": stats.empty, "bases": stats.bases, **counts,
               "seconds": round(seconds, 3)}
    _write_run_info(out, cfg, summary)
    log.info("prepared %d records (%d bp) into %d chunks and %d kept frames in %.1f s -> %s",
             stats.records - stats.empty, stats.bases, counts["chunks"], counts["frames"], seconds, out.root)
    return summary


def _write_batch(batch: RecordBatch, chunk_size: int, prep, files: list[IO[bytes]],
                 buffers: list[bytearray]) -> tuple[int, int]:
    """Append one batch to the three files; (chunks, kept frames). Compiled path if built, else numpy."""
    if prep is None:
        p = prepare_batch(batch, chunk_size)
        for fh, text in zip(files, format_prepared(p)):
            fh.write(text.encode())
        return len(p.chunk_ids), len(p.frame_ids)
    *used, n_chunks, n_frames = prep.format_prepared(batch.ids, batch.seqs, chunk_size, *buffers)
    for fh, buf, n in zip(files, buffers, used):
        with memoryview(buf) as view:  # released before the buffer may grow on the next batch
            fh.write(view[:n])
    return n_chunks, n_frames


def _claim_output_dir(out: OutputPaths, force: bool) -> None:
    existing = [p.name for p in out.prepare_files() if p.exists()]
    if existing and not force:
        raise ResumeError(f"output directory {str(out.root)!r} already holds {', '.join(existing)}: "
                          "choose another -o/--output-dir or pass --force to overwrite")
    out.root.mkdir(parents=True, exist_ok=True)


def _write_run_info(out: OutputPaths, cfg: PrepareConfig, summary: dict) -> None:
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items() if k != "progress"}
    info = {"tool": "virnucpro", "owner": "prepare", "command": "prepare", "version": __version__, "parameters": params,
            "record_path": "compiled" if compiled.prep() is not None else "numpy",
            "counts": summary}
    write_atomic(out.run_info, json.dumps(info, indent=2) + "\n")


def add_parser(sub) -> None:
    p = flags.subparser(sub, "prepare", "chunk and six-frame translate (the original's preparation step)",
                      "Write chunks.fa, identified_nucleotide.fa and identified_protein.faa exactly "
                      "as the original VirNucPro preparation step.")
    flags.input_args(p)
    flags.common(p, threads_help="CPU threads for decompressing the input; 0 = every core this job may use",
                 force_help="replace the three FASTA files and run_info.json of an earlier prepare in -o; anything "
                 "else there is left alone")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    cfg = PrepareConfig(inputs=args.inputs, paired=args.paired, output_dir=args.output_dir, chunk_size=args.chunk_size,
                                    threads=args.threads, force=args.force, progress=not args.quiet)
    run(cfg)
    return 0
