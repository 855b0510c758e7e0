"""`virnucpro workflow`: the generated Snakemake workflow runs two samples in three shards each, and its
per-sample results are byte-identical to plain predict runs; summary.tsv is right; a rerun redoes only
what is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GOLDEN

OUTPUTS = ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv")
PREDICT = ["--unit-frames", "48", "--threads", "1", "--device", "cpu"]


def _snakemake() -> list[str]:
    pytest.importorskip("snakemake")
    exe = Path(sys.executable).with_name("snakemake")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]


def _write_config(wf: Path, samples: dict[str, Path], tiny_models, shards: int = 3,
                  paired: dict[str, list[Path]] | None = None) -> None:
    rows = [f"{k}\t{v}\tno\n" for k, v in samples.items()]
    rows += [f"{k}\t{','.join(map(str, v))}\tyes\n" for k, v in (paired or {}).items()]
    (wf / "samples.tsv").write_text("sample\tpath\tpaired\n" + "".join(rows))
    (wf / "config.yaml").write_text(
        f"samples: samples.tsv\noutdir: results\nshards: {shards}\nchunk_size: 500\ndevice: cpu\nthreads: 1\n"
        f"dnabert: {tiny_models.dnabert_dir}\nesm: {tiny_models.esm_dir}\nclassifier: {tiny_models.classifier}\n"
        f"model_dir: {wf / 'models'}\nextra_args: \"--unit-frames 48\"\n")


def _run(wf: Path, *extra) -> subprocess.CompletedProcess:
    env_path = f"{Path(sys.executable).parent}"
    import os

    env = {**os.environ, "PATH": env_path + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([*_snakemake(), "--cores", "2", *extra], cwd=wf, capture_output=True, text=True, env=env,
                          timeout=600)


def test_workflow_two_samples_three_shards(tmp_path, run_cli, model_args, tiny_models):
    from virnucpro.testing.synthetic import write_reads

    reads = tmp_path / "reads.fa"
    write_reads(reads, 600, seed=9)
    samples = {"contigs": GOLDEN / "input.fa", "reads": reads}
    for name, src in samples.items():
        code, _, err = run_cli("predict", src, "-o", tmp_path / "plain" / name, *PREDICT, *model_args)
        assert code == 0, err
    records = reads.read_text().split(">")[1:61]  # two mate files of 30 reads sharing their IDs
    mates = [tmp_path / "m_R1.fa", tmp_path / "m_R2.fa"]
    for k, path in enumerate(mates):
        path.write_text("".join(f">pair{i} {k + 1}:N\n{r.split(chr(10), 1)[1]}" for i, r in enumerate(records[k::2])))
    code, _, err = run_cli("predict", *mates, "--paired", "-o", tmp_path / "plain" / "mates", *PREDICT, *model_args)
    assert code == 0, err

    wf = tmp_path / "wf"
    assert run_cli("workflow", wf)[0] == 0
    assert {p.name for p in wf.rglob("*") if p.is_file()} == {"Snakefile", "config.yaml", "README.md", "samples.tsv"}
    assert (wf / "profiles" / "slurm" / "config.yaml").exists()
    _write_config(wf, samples, tiny_models, paired={"mates": mates})
    proc = _run(wf)
    assert proc.returncode == 0, proc.stderr[-3000:]

    for name in [*samples, "mates"]:
        for out in OUTPUTS:
            assert (wf / "results" / name / out).read_bytes() == (tmp_path / "plain" / name / out).read_bytes(), out
        assert sorted(p.name for p in (wf / "results" / name).iterdir()) == sorted(
            p.name for p in (tmp_path / "plain" / name).iterdir())
    rows = [ln.split("\t") for ln in (wf / "results" / "summary.tsv").read_text().splitlines()]
    assert rows[0] == ["sample", "records", "virus", "others", "no_frames", "frames", "regions", "viral_records"]
    for row in rows[1:]:
        seqs = [ln.split("\t") for ln in (wf / "results" / row[0] / "sequences.tsv").read_text().splitlines()[1:]]
        frames = (wf / "results" / row[0] / "prediction_results.txt").read_text().count("\n") - 1
        regions = (wf / "results" / row[0] / "regions.tsv").read_text().count("\n") - 1
        assert row[1:] == [str(len(seqs)), *(str(sum(s[-1] == v for s in seqs)) for v in ("virus", "others",
                                                                                          "no_frames")), str(frames),
                           str(regions), str(_viral_records(wf / "results" / row[0]))]

    logs = wf / "results" / ".virnucpro" / "logs"  # each job's log names its full log; shards are not told to merge
    shard_dir = wf / "results" / ".virnucpro" / "shards" / "reads" / "2"
    assert str(shard_dir.relative_to(wf) / "virnucpro.log") in (logs / "reads.shard2.log").read_text()
    assert "results/reads/virnucpro.log" in (logs / "reads.merge.log").read_text()
    full = (shard_dir / "virnucpro.log").read_text()
    assert "the workflow merges the shards itself" in full and "`virnucpro merge`" not in full

    page = (wf / "results" / "summary.html").read_text()
    assert page.count("<tr><td><a href=") == 3 and 'href="reads/report.html"' in page and "http" not in page

    # a failed shard job (its directory and marker gone) under a sample whose merge never ran: only that shard
    # and that merge are redone, and the results come back identical
    shutil.rmtree(wf / "results" / ".virnucpro" / "shards" / "reads" / "2")
    (wf / "results" / ".virnucpro" / "shards" / "reads" / "2.done").unlink()
    (wf / "results" / "reads" / "sequences.tsv").unlink()
    proc = _run(wf)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = proc.stdout + proc.stderr
    jobs = jobs[jobs.index("Job stats"):]
    jobs = jobs[:jobs.index("\n\n")]
    assert re.search(r"shard\s+1\n", jobs) and re.search(r"merge\s+1\n", jobs) and "models" not in jobs, jobs
    for out in OUTPUTS:
        assert (wf / "results" / "reads" / out).read_bytes() == (tmp_path / "plain" / "reads" / out).read_bytes()


def test_workflow_refuses_to_overwrite(tmp_path, run_cli):
    assert run_cli("workflow", tmp_path / "wf")[0] == 0
    code, _, err = run_cli("workflow", tmp_path / "wf")
    assert code == 2 and "--force" in err
    assert run_cli("workflow", tmp_path / "wf", "--force")[0] == 0


@pytest.mark.slow
def test_workflow_on_a_real_slurm(tmp_path, run_cli, model_args, tiny_models):
    """A one-node SLURM on this machine (tests/slurm/start_local_slurm.sh: Debian's slurm-wlm and munge, as
    root), the generated workflow submitted through its SLURM profile: the same bytes as plain runs."""
    import os

    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd needs root")
    script = Path(__file__).parent / "slurm" / "start_local_slurm.sh"
    started = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        pytest.skip(f"no local SLURM: {started.stderr.strip()[-200:]}")
    samples = {"contigs": GOLDEN / "input.fa"}
    code, _, err = run_cli("predict", GOLDEN / "input.fa", "-o", tmp_path / "plain", *PREDICT, *model_args)
    assert code == 0, err
    wf = tmp_path / "wf"
    assert run_cli("workflow", wf)[0] == 0
    _write_config(wf, samples, tiny_models, shards=2)
    # this machine is small: ask SLURM for what it has (the profile's defaults are for GPU nodes)
    proc = _run(wf, "--workflow-profile", "profiles/slurm", "--default-resources", "mem_mb=500", "cpus_per_task=1",
                "runtime=30", "--set-resources", "shard:mem_mb=1500", "shard:cpus_per_task=1")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "submitted with SLURM jobid" in proc.stdout + proc.stderr
    for out in OUTPUTS:
        assert (wf / "results" / "contigs" / out).read_bytes() == (tmp_path / "plain" / out).read_bytes(), out


def _viral_records(run: Path) -> int:
    """Records in a run's viral.fa / viral.fq / viral_R1 / viral_R2 files."""
    n = 0
    for f in run.glob("viral*"):
        text = f.read_text()
        n += text.count("\n>") + text.startswith(">") if f.suffix == ".fa" else text.count("\n") // 4
    return n
