"""`virnucpro selftest`: every stage of the method, end to end, on tiny random models and the shipped example.

Each stage is a function of the shared `Context` that returns what it checked (one line) or raises with
the reason; `run_stages` runs them in order, a stage whose prerequisite failed is reported as not run.
The models are written in the published on-disk formats (testing/factory.py) with attention heads of
the full-size models' width (64), so a GPU picks the same kernels as for ESM-2 3B and DNABERT-S.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from virnucpro.models.dnabert import DnaBertConfig
from virnucpro.models.esm2 import ESM2Config

SELFTEST_ESM = ESM2Config(num_layers=2, embed_dim=128, attention_heads=2)  # head dim 64, as ESM-2 3B
SELFTEST_DNABERT = DnaBertConfig(vocab_size=64, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=256)  # head dim 64, as DNABERT-S
UNIT_FRAMES = 2  # many small work units: the kill lands between commits, the shards split the plan
THREADS = 1  # tiny models gain nothing from more CPU threads, and a busy machine's cores slow them down a lot
TABLES = ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv", "regions.tsv")
TOLERANCE = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 5e-2}  # relative L2 error of an embedding


class Failed(Exception):
    """A check of the self-test did not hold (its message is the FAIL line's reason)."""


def check(ok: bool, reason: str) -> None:
    if not ok:
        raise Failed(reason)


@dataclass
class Context:
    """What the stages share: the sandbox, the devices, and what earlier stages produced."""

    root: Path
    devices: list[str]  # resolved, e.g. ["cpu"] or ["cuda:0", "cuda:1"]
    device_arg: str  # as given to predict (auto, cpu, cuda:0,cuda:1, ...)
    example: Path
    models: object = None  # testing.factory.TinyModels
    records: list = field(default_factory=list)  # [(id, sequence)]
    frames: tuple = ()  # (ids, nucleotide slices, proteins) of the kept frames
    reference: dict = field(default_factory=dict)  # encoder -> (F, D) fp32 features from the reference kernel
    one: Path | None = None  # the single predict run
    verbose: int = 0  # -v: the inner commands' logs on stderr

    def predict_args(self, out: Path, *extra: str) -> list[str]:
        m = self.models
        return ["predict", str(self.example), "-o", str(out), "--esm", str(m.esm_dir), "--dnabert", str(m.dnabert_dir),
                "--classifier", str(m.classifier), "--offline", "--model-dir", str(self.root / "model_cache"),
                "--device", self.device_arg, "--unit-frames", str(UNIT_FRAMES), "--threads", str(THREADS), "-q", *extra]


@dataclass
class Stage:
    name: str
    run: Callable[[Context], str]
    needs: tuple[str, ...] = ()


@dataclass
class Result:
    name: str
    ok: bool
    detail: str  # what was checked, or why it failed
    seconds: float


def cli(ctx: "Context", argv: list[str]) -> None:
    """Run a virnucpro command in this process as `cli.main` would (fresh logging, its command line remembered);
    its errors propagate (the stage's FAIL reason)."""
    from virnucpro.cli import create_parser
    from virnucpro.logs import remember_command, setup_logging

    args = create_parser().parse_args(argv)
    remember_command(argv)
    setup_logging(ctx.verbose, quiet=not ctx.verbose)
    code = args.func(args)
    check(code == 0, f"`virnucpro {' '.join(argv[:1])}` exited with {code}")


# ---- the stages ----

def write_models(ctx: Context) -> str:
    from virnucpro.testing.factory import write_tiny_models

    ctx.models = write_tiny_models(ctx.root / "models", esm_cfg=SELFTEST_ESM, dnabert_cfg=SELFTEST_DNABERT)
    return "ESM-2 (Hugging Face safetensors), DNABERT-S (with its BPE tokenizer), classifier (pickled .pth, as published)"


def read(ctx: Context) -> str:
    from virnucpro.io.seqio import read_batches

    ctx.records = [(i, s) for b in read_batches(str(ctx.example)) for i, s in zip(b.ids, b.seqs)]
    headers = ctx.example.read_text().count("\n>") + ctx.example.read_text().startswith(">")
    check(len(ctx.records) == headers, f"{len(ctx.records)} records read, the file has {headers} headers")
    check(len({i for i, _ in ctx.records}) == headers, "record IDs are not unique")
    return f"{len(ctx.records)} records, {sum(len(s) for _, s in ctx.records):,} bp"


def prepare(ctx: Context) -> str:
    """`virnucpro prepare` on the compiled and the numpy path, against the reference implementation."""
    from virnucpro import compiled
    from virnucpro.prep.prepare import prepare_batch
    from virnucpro.prep.reference import prepare_records
    from virnucpro.io.seqio import RecordBatch

    ids, seqs = [i for i, _ in ctx.records], [s for _, s in ctx.records]
    p = prepare_batch(RecordBatch(ids, seqs), 500)
    ctx.frames = (p.frame_ids, p.nucleotides, p.proteins)
    want = [f for _, frames in prepare_records(ctx.records, 500) for f in frames]
    check([f[0] for f in want] == p.frame_ids and [f[2] for f in want] == p.proteins,
          "the kept frames differ from the reference implementation")
    paths = {"numpy": _prepare_files(ctx, "numpy", pure=True)}
    if compiled.prep() is not None:
        paths["compiled"] = _prepare_files(ctx, "compiled", pure=False)
        for name in ("chunks.fa", "identified_nucleotide.fa", "identified_protein.faa"):
            check((paths["compiled"] / name).read_bytes() == (paths["numpy"] / name).read_bytes(),
                  f"{name}: the compiled and the numpy path differ")
    proteins = (paths["numpy"] / "identified_protein.faa").read_text()
    check(proteins == "".join(f">{fid}\n{prot}\n" for fid, _, prot in want), "identified_protein.faa differs from "
          "the reference implementation")
    paths_said = "compiled = numpy = reference" if len(paths) == 2 else ("numpy = reference (the compiled path is "
                                                                          "not built: no C compiler at install)")
    return f"{len(p.chunk_ids)} chunks, {len(p.frame_ids)} kept frames; {paths_said}"


def _prepare_files(ctx: Context, name: str, pure: bool) -> Path:
    out = ctx.root / f"prepare_{name}"
    saved = os.environ.get("VIRNUCPRO_PURE_PYTHON")
    os.environ["VIRNUCPRO_PURE_PYTHON"] = "1" if pure else "0"
    try:
        cli(ctx, ["prepare", str(ctx.example), "-o", str(out), "-q"])
    finally:
        if saved is None:
            os.environ.pop("VIRNUCPRO_PURE_PYTHON")
        else:
            os.environ["VIRNUCPRO_PURE_PYTHON"] = saved
    return out


def dnabert(ctx: Context) -> str:
    return _encoder(ctx, "dnabert")


def esm(ctx: Context) -> str:
    return _encoder(ctx, "esm")


def _encoder(ctx: Context, which: str) -> str:
    """One encoder on every device with the kernel a run picks there, against the reference kernel in fp32."""
    from virnucpro.models.attention import choose_backend
    from virnucpro.pipeline.devices import resolve_precision

    ctx.reference[which] = _embed(ctx, which, "cpu", torch.float32, "reference")
    said = []
    for device in dict.fromkeys(ctx.devices):
        dtype = {"fp16": torch.float16, "fp32": torch.float32}[resolve_precision("auto", device)]
        got = _embed(ctx, which, device, dtype, "auto")
        want = ctx.reference[which]
        err = float(((got - want).norm(dim=1) / want.norm(dim=1)).max())  # worst frame's relative L2 error
        check(got.shape == want.shape and torch.isfinite(got).all(), f"{device}: embeddings of shape "
              f"{tuple(got.shape)} with non-finite values, want {tuple(want.shape)}")
        heads, head_dim = (SELFTEST_DNABERT.num_attention_heads, SELFTEST_DNABERT.head_dim) if which == "dnabert" else \
            (SELFTEST_ESM.attention_heads, SELFTEST_ESM.head_dim)
        kernel = choose_backend("auto", torch.empty(1, heads, head_dim, dtype=dtype, device=device), which == "dnabert")
        check(err <= TOLERANCE[dtype], f"{device} ({kernel}, {str(dtype)[6:]}): embeddings differ from the reference "
              f"kernel by {err:.1e} (relative), more than {TOLERANCE[dtype]:.0e}")
        said.append(f"{device} {kernel} {str(dtype)[6:]}")
    return f"{len(want)} frames; {', '.join(said)} = reference kernel (max relative error {err:.1e})"


def _embed(ctx: Context, which: str, device: str, dtype: torch.dtype, attention: str) -> torch.Tensor:
    """(F, D) fp32 pooled embeddings of the example's kept frames."""
    from virnucpro.engine.embedder import Embedder, EngineConfig
    from virnucpro.models.loaders import load_dnabert, load_esm

    torch.set_num_threads(THREADS)
    dna_model, tokenizer = load_dnabert(ctx.models.dnabert_dir)
    emb = Embedder(dna_model, tokenizer, load_esm(ctx.models.esm_dir),
                   EngineConfig(device=device, dtype=dtype, attention=attention))
    tok = emb.tokenize(*ctx.frames)
    if which == "dnabert":
        return emb.encode(emb.dnabert, tok.dna, tok.ids, emb.cfg.dnabert_batch_tokens).float().cpu()
    return emb.encode(emb.esm, tok.protein, tok.ids, emb.cfg.esm_batch_tokens).float().cpu()


def classifier(ctx: Context) -> str:
    from virnucpro.models.classifier import load_classifier
    from virnucpro.pipeline.scoring import classify

    clf = load_classifier(ctx.models.classifier)
    s = classify(clf, torch.cat([ctx.reference["dnabert"], ctx.reference["esm"]], dim=1))
    ctx.reference["scores"] = dict(zip(ctx.frames[0], zip(s.score1.tolist(), s.score2.tolist())))
    check(abs(float((s.score1 + s.score2).max()) - 1) < 1e-5, "scores of a frame do not sum to 1")
    return f"{len(s.score1)} frames scored, {int(s.is_virus.sum())} called viral by the random weights"


def predict(ctx: Context) -> str:
    ctx.one = ctx.root / "one"
    t = time.perf_counter()
    cli(ctx, ctx.predict_args(ctx.one))
    return f"--device {ctx.device_arg}: the whole method in {time.perf_counter() - t:.1f} s"


def tables(ctx: Context) -> str:
    """The tables hold every frame, chunk and record, with the scores of the reference path."""
    import json

    from virnucpro.pipeline.claim import damaged_outputs
    from virnucpro.pipeline.outputs import OutputPaths

    out = OutputPaths(ctx.one)
    info = json.loads(out.run_info.read_text())
    check(info.get("status") == "complete", f"run_info.json says {info.get('status')!r}, not 'complete'")
    check((bad := damaged_outputs(out, info)) is None, f"{bad} does not match its checksum in run_info.json")
    rows = [r.split("\t") for r in out.predictions.read_text().splitlines()[1:]]
    want = ctx.reference["scores"]
    check(sorted(r[0] for r in rows) == sorted(want), f"prediction_results.txt has {len(rows)} frames, the "
          f"example {len(want)}")
    worst = max((abs(float(r[3]) - want[r[0]][1]) for r in rows), default=0.0)
    tolerance = 1e-4 if ctx.devices[0] == "cpu" else 5e-2  # fp16 features against fp32 ones near a 0.5 score
    check(worst <= tolerance, f"a score differs from the reference path's by {worst:.1e}, more than {tolerance:.0e}")
    seqs = out.sequences.read_text().splitlines()[1:]
    check(len(seqs) == len(ctx.records), f"sequences.tsv has {len(seqs)} rows, the example {len(ctx.records)} records")
    return f"{len(rows)} frame rows with the reference path's scores (max difference {worst:.1e}), {len(seqs)} records"


def regions(ctx: Context) -> str:
    from virnucpro.pipeline.outputs import REGIONS_HEADER, OutputPaths

    text = OutputPaths(ctx.one).regions.read_text()
    check(text.startswith(REGIONS_HEADER), "regions.tsv lacks its header")
    lengths = {i: len(s) for i, s in ctx.records}
    rows = [r.split("\t") for r in text.splitlines()[1:]]
    for r in rows:
        seq, start, end, length = r[0], int(r[2]), int(r[3]), int(r[4])
        check(seq in lengths and 1 <= start <= end <= lengths[seq] and length == end - start + 1,
              f"region {r[:5]} does not lie inside its sequence")
    return f"{len(rows)} viral region(s), each inside its sequence"


def report(ctx: Context) -> str:
    from virnucpro.pipeline.outputs import OutputPaths

    page = OutputPaths(ctx.one).report.read_text()
    check(page.rstrip().endswith("</html>") and "<svg" in page, "report.html is incomplete or has no figures")
    return f"report.html, {len(page) // 1024} KiB with {page.count('<svg')} figures"


def resume(ctx: Context) -> str:
    """A run killed (SIGKILL) after its first work unit, then resumed; a rerun of a finished run does nothing."""
    out = ctx.root / "killed"
    cmd = [sys.executable, "-m", "virnucpro", *ctx.predict_args(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed = _kill_after_first_unit(proc, out / "work_units")
    cli(ctx, ctx.predict_args(out))
    _same_tables(ctx.one, out)
    stamps = {n: (ctx.one / n).stat().st_mtime_ns for n in TABLES}
    cli(ctx, ctx.predict_args(ctx.one))
    check(stamps == {n: (ctx.one / n).stat().st_mtime_ns for n in TABLES}, "a rerun of a finished run rewrote its "
          "tables")
    how = f"killed after {committed} committed unit(s), resumed" if committed else "(the run ended before the kill)"
    return f"{how}: tables identical to the single run; a rerun of a finished run is a checked no-op"


def _kill_after_first_unit(proc: subprocess.Popen, units: Path, timeout: float = 300.0) -> int:
    deadline = time.monotonic() + timeout
    seen = 0
    while proc.poll() is None and time.monotonic() < deadline:
        seen = len(list(units.glob("unit_*.tsv"))) if units.is_dir() else 0
        if seen:
            break
        time.sleep(0.002)
    proc.kill()  # no cleanup runs, as when a node dies
    proc.wait()
    return seen


def shards(ctx: Context) -> str:
    dirs = [ctx.root / f"shard_{i}" for i in (1, 2)]
    for i, d in enumerate(dirs, 1):
        cli(ctx, ctx.predict_args(d, "--shard", f"{i}/2"))
    merged = ctx.root / "merged"
    cli(ctx, ["merge", *map(str, dirs), "-o", str(merged), "-q"])
    _same_tables(ctx.one, merged)
    return "2 shards merged: tables identical to the single run, byte for byte"


def _same_tables(a: Path, b: Path) -> None:
    for name in TABLES:
        check((a / name).read_bytes() == (b / name).read_bytes(), f"{b.name}/{name} differs from {a.name}/{name}")


STAGES = (
    Stage("models", write_models),
    Stage("read", read),
    Stage("prepare", prepare, ("read",)),
    Stage("DNABERT-S", dnabert, ("models", "prepare")),
    Stage("ESM-2", esm, ("models", "prepare")),
    Stage("classifier", classifier, ("DNABERT-S", "ESM-2")),
    Stage("predict", predict, ("models",)),
    Stage("tables", tables, ("predict", "classifier")),
    Stage("regions", regions, ("predict", "read")),
    Stage("report", report, ("predict",)),
    Stage("resume", resume, ("predict",)),
    Stage("shards", shards, ("predict",)),
)


def run_stages(ctx: Context, stages: tuple[Stage, ...] | None = None,
               say: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Run `stages` (default: STAGES) in order; each result is passed to `say` as soon as it is known."""
    results: dict[str, Result] = {}
    for stage in STAGES if stages is None else stages:
        t = time.perf_counter()
        failed = [n for n in stage.needs if not results[n].ok]
        if failed:
            result = Result(stage.name, False, f"not run: {', '.join(failed)} failed", 0.0)
        else:
            try:
                result = Result(stage.name, True, stage.run(ctx), time.perf_counter() - t)
            except Exception as exc:  # noqa: BLE001  (a self-test reports every failure as its stage's reason)
                result = Result(stage.name, False, reason(exc), time.perf_counter() - t)
        results[stage.name] = result
        say(result)
    return list(results.values())


def reason(exc: BaseException) -> str:
    """One line: the message of a check or a virnucpro error, else the exception's type and first line."""
    from virnucpro.errors import VirnucproError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (Failed, VirnucproError)):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
