"""The workflow's config.yaml and samples.tsv, checked before Snakemake submits any job.

The generated Snakefile calls `validate_workflow(config)` at parse time, so a mistake (`shards: 0`,
`device: foo`, `paired: y`, `threads: eight`, a sample named `../x`, a missing input) is one message
before anything runs, not a failure inside a job on a compute node.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from virnucpro import argtypes
from virnucpro.errors import InputError
from virnucpro.pipeline.shards import MAX_SHARDS
from virnucpro.report.sample_names import check_sample_name
from virnucpro.workflow.extra_flags import check_extra_flags, check_flags_for_device
from virnucpro.workflow.outdir import WORK, changed_input, check_outdir, readable_sha256
from virnucpro.workflow.commands import check_shell_values

KEYS = ("samples", "outdir", "shards", "chunk_size", "device", "threads", "dnabert", "esm", "classifier",
        "model_dir", "extra_args")
PUBLISHED_CHUNK_SIZES = (300, 500)
OWN_FLAGS = ("-o", "--output-dir", "--shard", "--device", "--threads", "--chunk-size", "--paired", "--force",
             "--dnabert", "--esm", "--classifier", "--model-dir", "--offline", "-h", "--help")
SUMMARY_FILES = ("summary.tsv", "summary.html")  # written in outdir beside the sample directories
YES, NO = ("yes", "true", "1"), ("no", "false", "0", "")
TSV = {"delimiter": "\t", "quoting": csv.QUOTE_NONE}  # quotes belong to the path cell (a path with a comma)


@dataclass
class Sample:
    paths: list[str]
    paired: bool


@dataclass
class WorkflowSettings:
    """config.yaml, checked and typed."""

    outdir: str
    shards: int
    chunk_size: int
    device: str
    threads: int
    samples: dict[str, Sample]


def validate_workflow(config: dict, base: Path | None = None) -> WorkflowSettings:
    """Check config.yaml (already parsed) and the samples.tsv it names; paths relative to `base` (default: cwd).

    Raises:
        InputError: one line naming the key or the samples.tsv row, and the fix.
    """
    base = Path.cwd() if base is None else Path(base)
    if not isinstance(config, dict):
        raise InputError("config.yaml: expected keys like 'samples: samples.tsv' (see the generated config.yaml)")
    unknown = sorted(set(map(str, config)) - set(KEYS))
    if unknown:
        raise InputError(f"config.yaml: unknown key {unknown[0]!r}: use only {', '.join(KEYS)}")
    outdir = _text(config, "outdir", required=True).rstrip("/") or "/"
    chunk_size = _integer(config, "chunk_size", 500, argtypes.CHUNK_SIZE)
    if chunk_size not in PUBLISHED_CHUNK_SIZES and not _text(config, "classifier"):
        raise InputError(f"config.yaml: chunk_size {chunk_size} has no published classifier: use 300 or 500, or set "
                         "'classifier:' to one trained for it (`virnucpro train --chunk-size`)")
    settings = WorkflowSettings(outdir=outdir, shards=_integer(config, "shards", 1, (1, MAX_SHARDS)),
                                chunk_size=chunk_size, device=_device(config),
                                threads=_integer(config, "threads", 8, (1, argtypes.THREADS[1])),
                                samples=read_samples(_resolve(base, _text(config, "samples", required=True)), base))
    check_extra_args(_text(config, "extra_args"))
    check_flags_for_device(_text(config, "extra_args"), settings.device)
    check_outdir(_resolve(base, settings.outdir), base, list(settings.samples))
    check_shell_values(config, {name: sample.paths for name, sample in settings.samples.items()})
    for name, sample in settings.samples.items():
        for run_dir in _finished_runs(_resolve(base, settings.outdir), name):
            check_finished_input(run_dir, name, [_resolve(base, p) for p in sample.paths])
    return settings


def check_finished_input(run_dir: Path, name: str, paths: list[Path]) -> None:
    """A sample's finished run (or finished shard) must still match its input (file count, sizes, content).

    Its jobs would otherwise refuse the changed input inside a job; an input only touched is unchanged.

    Raises:
        InputError: naming the sample, the file and the fix.
    """
    from virnucpro.pipeline.run_info import read_info

    info = read_info(run_dir / "run_info.json")
    if not isinstance(info, dict) or info.get("status") != "complete":
        return
    desc = info.get("input")
    recorded = desc.get("files", [desc]) if isinstance(desc, dict) else []
    changed = changed_input(paths, recorded, (run_dir / "run_info.json").stat().st_mtime)
    if len(recorded) != len(paths) or changed:
        what = f"input {changed!r}" if changed else "its list of inputs"
        raise InputError(f"sample {name!r}: {what} changed after its finished run in {run_dir}: restore it, or delete "
                         f"{run_dir} and its shards under .virnucpro/shards/{name} to recompute the sample")


def _finished_runs(outdir: Path, name: str) -> list[Path]:
    """The sample's merged run directory and its shard directories (those that exist)."""
    shards = outdir / WORK / "shards" / name
    return [outdir / name, *(sorted(p for p in shards.iterdir() if p.is_dir()) if shards.is_dir() else [])]


def check_extra_args(text: str) -> None:
    """extra_args must parse as `virnucpro predict` flags, and not set what the workflow sets itself.

    Raises:
        InputError: naming the flag and the fix.
    """
    import contextlib
    import io
    import shlex

    from virnucpro.cli import create_parser

    try:
        args = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"config.yaml: extra_args: {exc}: fix the quoting") from None
    for a in args:
        if a.split("=")[0] in OWN_FLAGS:
            raise InputError(f"config.yaml: extra_args sets {a.split('=')[0]}, which the workflow sets itself: use "
                             "its own key in config.yaml instead")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            create_parser().parse_args(["predict", "input.fa", "-o", "out", *args])
    except SystemExit:
        reason = err.getvalue().strip().splitlines()[-1:] or ["not predict flags"]
        raise InputError(f"config.yaml: extra_args {text[:60]!r}: {reason[0].removeprefix('virnucpro: error: ')}") \
            from None
    check_extra_flags(args)


def read_samples(path: Path, base: Path | None = None) -> dict[str, Sample]:
    """sample -> Sample, from a TSV with the header `sample<TAB>path` (optional `paired`: yes/no); a BOM is allowed.

    Lines starting with `#` and blank lines are skipped (the template `virnucpro workflow` writes explains the
    columns in such lines); error messages name the line in the file.

    Raises:
        InputError: naming the file, the row and the fix.
    """
    base = path.parent if base is None else base
    numbered = _table_lines(path)
    header = [_unquote(h) for h in next(csv.reader([numbered[0][1]], **TSV))] if numbered else []
    if not {"sample", "path"} <= set(header):
        raise InputError(f"{path}: give a TSV with the header 'sample<TAB>path' and one row per sample")
    if len(numbered) == 1:
        raise InputError(f"{path} lists no sample yet: add one row per sample under its header (sample<TAB>path, see "
                         "the examples in it)")
    rows = csv.DictReader([text for _, text in numbered[1:]], fieldnames=header, **TSV)
    samples: dict[str, Sample] = {}
    for (line, _), row in zip(numbered[1:], rows):
        name, sample = _sample(path, line, row, base)
        if name in samples:
            raise InputError(f"{path} line {line}: sample {name!r} is given twice: sample names must be unique")
        samples[name] = sample
    return samples


def _table_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines that are neither blank nor `#` comments."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"samples file {str(path)!r} cannot be read ({exc.__class__.__name__}): give a UTF-8 TSV "
                         "with the header 'sample<TAB>path'") from None
    return [(k, text) for k, text in enumerate(lines, start=1) if text.strip() and not text.lstrip().startswith("#")]


def _sample(path: Path, line: int, row: dict, base: Path) -> tuple[str, Sample]:
    where = f"{path} line {line}"
    try:
        name = check_sample_name(_unquote(row.get("sample")), where)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if name.lower() in SUMMARY_FILES:
        raise InputError(f"{where}: sample name {name!r} is the workflow's own {name.lower()} in outdir: rename the "
                         "sample")
    paired_text = _unquote(row.get("paired")).lower()
    if paired_text not in YES + NO:
        raise InputError(f"{where}: paired {row.get('paired')!r} for {name!r}: write yes or no")
    paths = split_paths(row.get("path") or "", where, base)
    if not paths:
        raise InputError(f"{where}: sample {name!r} has no path: give its input file(s)")
    paired = paired_text in YES
    if paired and len(paths) > 2:
        raise InputError(f"{where}: paired sample {name!r} lists {len(paths)} files: give R1,R2 or one interleaved file")
    for p in paths:
        if not _resolve(base, p).is_file():
            comma = (" (a path with a comma goes in double quotes: \"my,file.fa\")" if "," in (row.get("path") or "")
                     else "")
            raise InputError(f"{where}: input {p!r} of sample {name!r} is not a file: fix the path (relative paths "
                             f"are read from where snakemake runs){comma}")
    refuse_repeated_files(where, name, paths, [_resolve(base, p) for p in paths], paired)
    return name, Sample(paths, paired)


def split_paths(cell: str, where: str, base: Path) -> list[str]:
    """The files of a samples.tsv path cell: separated by commas; a path with a comma is written in double quotes
    (`"my,file.fa",b.fa`; a quote inside them doubled). A cell quoted whole by a spreadsheet (`"a.fa,b.fa"`) still
    means its comma-separated files when the whole is not a file itself.

    Raises:
        InputError: quotes that do not close.
    """
    try:
        pieces = next(csv.reader([cell.strip()], delimiter=",", quotechar='"', skipinitialspace=True, strict=True),
                      [])
    except csv.Error:
        raise InputError(f"{where}: path cell {cell[:60]!r} has unbalanced double quotes: put a path with a comma in "
                         "double quotes, \"my,file.fa\", and separate files with commas") from None
    paths = [p.strip() for p in pieces if p.strip()]
    if len(paths) == 1 and cell.strip().startswith('"') and "," in paths[0] and not _resolve(base, paths[0]).is_file():
        paths = [p.strip() for p in paths[0].split(",") if p.strip()]
    return paths


def refuse_repeated_files(where: str, name: str, given: list[str], paths: list[Path], paired: bool) -> None:
    """Inputs every job of the sample would refuse: one file twice (a path, a link to it), a paired sample whose
    two mate files hold the same bytes, or an unpaired sample with a copy of a file (its records twice).

    Raises:
        InputError: naming the line, the sample and both files.
    """
    import os

    for k, path in enumerate(paths):
        for j in range(k):
            if os.path.samefile(path, paths[j]):
                raise InputError(f"{where}: sample {name!r} lists {given[k]!r} twice (also as file {j + 1}): list each "
                                 "file once")
            if path.stat().st_size == paths[j].stat().st_size and readable_sha256(path) == readable_sha256(
                    paths[j]) and (paired or path.stat().st_size):
                why = ("its mate files are one file (same content), so every read would pair with itself: give the R1 "
                       "and the R2 file, or one interleaved file" if paired else
                       "every record would be read twice (duplicate IDs): list each file once")
                raise InputError(f"{where}: sample {name!r}: {given[k]!r} holds the same content as {given[j]!r}; "
                                 f"{why}")


def _unquote(cell: str | None) -> str:
    """A TSV cell without surrounding spaces and one pair of surrounding double quotes (as spreadsheets write)."""
    text = (cell or "").strip()
    return text[1:-1].strip() if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _text(config: dict, key: str, required: bool = False) -> str:
    value = config.get(key)
    if value is None or value == "":
        if required:
            raise InputError(f"config.yaml: '{key}' is missing: set it (see the generated config.yaml)")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InputError(f"config.yaml: '{key}' must be a single value, not {type(value).__name__}")
    return str(value)


def _integer(config: dict, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise InputError(f"config.yaml: {key}: {str(value)[:40]!r} is not allowed: give a whole number from "
                         f"{bounds[0]} to {bounds[1]}")
    return value


def _device(config: dict) -> str:
    from virnucpro.pipeline.devices import parse_devices

    text = _text(config, "device") or "auto"
    try:
        parse_devices(text)
    except ValueError as exc:
        raise InputError(f"config.yaml: device: {exc}") from None
    return text


def _resolve(base: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p
