"""The shell commands of the workflow's jobs, built from config.yaml as quoted words: a config is input, not code.

Every value that reaches a shell (paths, model names, extra_args) is one `shlex.quote`d word, and the finished
command enters the Snakefile through a callable `params` entry, which Snakemake neither formats nor fills with
wildcards: `;`, `$(...)`, backticks, `|`, `>`, newlines, quotes and braces in a value stay characters of an
argument. Paths that Snakemake itself reads as file patterns (outdir, the samples' inputs) may not hold braces
(`{x}` would be a wildcard): `check_pattern_safe` refuses them at validation.
"""

from __future__ import annotations

import shlex

from virnucpro.errors import InputError

MODEL_KEYS = ("dnabert", "esm", "classifier")
WORKFLOW_ENV = "VIRNUCPRO_WORKFLOW"  # =1 for shard jobs: their log leaves the merge to the workflow (assemble)
CONTROL = {chr(c) for c in (*range(0x20), 0x7F)}


def words(text: str) -> list[str]:
    """extra_args split as a POSIX shell would split it (quotes kept as grouping), never run.

    Raises:
        InputError: unbalanced quotes.
    """
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise InputError(f"config.yaml: extra_args: {exc}: fix the quoting") from None


def path_word(path: str) -> str:
    """A path as one argument that no parser reads as a flag (`-x` -> `./-x`)."""
    return f"./{path}" if path.startswith("-") else path


def join(args: list[str]) -> str:
    """One shell command line: each argument one quoted word."""
    return " ".join(shlex.quote(str(a)) for a in args)


def model_args(config: dict, chunk_size: int) -> list[str]:
    """--chunk-size, the three models and the model cache, as predict and download take them."""
    args = ["--chunk-size", str(chunk_size)]
    for key in MODEL_KEYS:
        if config.get(key):
            args += [f"--{key}", str(config[key])]
    if config.get("model_dir"):
        args += ["--model-dir", str(config["model_dir"])]
    return args


def download_command(config: dict, chunk_size: int) -> str:
    return join(["virnucpro", "download", *model_args(config, chunk_size)])


def shard_command(reads: list[str], paired: bool, out: str, shard: str, shards: int, device: str, threads: int,
                  config: dict, chunk_size: int) -> str:
    """`virnucpro predict` of one shard; extra_args' words come last but before -q, each quoted."""
    args = ["virnucpro", "predict", *map(path_word, reads), *(["--paired"] if paired else []), "-o", path_word(out),
            "--shard", f"{shard}/{shards}", "--device", device, "--threads", str(threads), "--offline",
            *model_args(config, chunk_size), *words(str(config.get("extra_args") or "")), "-q"]
    return f"{WORKFLOW_ENV}=1 " + join(args)  # the shard's log then leaves the merge to the workflow


def merge_command(shard_dirs: list[str], out: str) -> str:
    return join(["virnucpro", "merge", *map(path_word, shard_dirs), "-o", path_word(out), "--force", "-q"])


def full_log_note(out: str) -> str:
    """The line a job appends to its (errors-only) Snakemake log on success: where its full log is."""
    return join(["echo", "done; the full log of this job:", f"{path_word(out)}/virnucpro.log"])


def check_pattern_safe(what: str, path: str) -> None:
    """A path Snakemake reads as a file pattern: no braces (wildcards), no control characters.

    Raises:
        InputError: naming the value and the fix.
    """
    if "{" in path or "}" in path:
        raise InputError(f"{what} {path[:80]!r} holds a brace, which Snakemake reads as a wildcard: rename it (or link "
                         "it under a name) without '{' and '}'")
    check_no_controls(what, path)


def check_no_controls(what: str, text: str) -> None:
    """No control character (newline, tab, escape, ...) in a path or name that reaches a command line or a log.

    Raises:
        InputError: naming the value and the fix.
    """
    if CONTROL & set(text):
        raise InputError(f"{what} {text[:80]!r} holds a control character (newline, tab, ...): rename it without one")


def check_shell_values(config: dict, sample_paths: dict[str, list[str]]) -> None:
    """Every config value that becomes a path or a word of a job's command: a single value, no control characters;
    outdir and the sample paths also without braces.

    Raises:
        InputError: one line naming the key or the sample, and the fix.
    """
    for key in (*MODEL_KEYS, "model_dir"):
        value = config.get(key)
        if value is not None and (not isinstance(value, (str, int, float)) or isinstance(value, bool)):
            raise InputError(f"config.yaml: '{key}' must be a single value (a name or a path), not "
                             f"{type(value).__name__}")
        if value:
            check_no_controls(f"config.yaml: {key}", str(value))
    check_pattern_safe("config.yaml: outdir", str(config.get("outdir") or ""))
    for name, paths in sample_paths.items():
        for p in paths:
            check_pattern_safe(f"samples.tsv: input of sample {name!r}", p)

