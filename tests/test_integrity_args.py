"""Every numeric flag of every subcommand is bounded while parsing: one line, exit 2, nothing run."""

from __future__ import annotations

import argparse

import pytest

from virnucpro import cli
from virnucpro.argtypes import int_in

HUGE = "9" * 30

# (subcommand prefix, flag) for every numeric flag
NUMERIC = [
    (["predict", "x.fa", "-o", "o"], "--chunk-size"),
    (["predict", "x.fa", "-o", "o"], "--threads"),
    (["predict", "x.fa", "-o", "o"], "--worker-timeout"),
    (["predict", "x.fa", "-o", "o"], "--batch-tokens"),
    (["predict", "x.fa", "-o", "o"], "--unit-frames"),
    (["extract", "x.fa", "-o", "o"], "--unit-frames"),
    (["extract", "x.fa", "-o", "o"], "--chunk-size"),
    (["prepare", "x.fa", "-o", "o"], "--chunk-size"),
    (["prepare", "x.fa", "-o", "o"], "--threads"),
    (["check-precision", "x.fa"], "--frames"),
    (["check-precision", "x.fa"], "--chunk-size"),
    (["train", "--viral", "v.fa", "--other", "o.fa", "-o", "o"], "--seed"),
    (["train", "--viral", "v.fa", "--other", "o.fa", "-o", "o"], "--max-epochs"),
    (["train", "--viral", "v.fa", "--other", "o.fa", "-o", "o"], "--chunk-size"),
    (["benchmark"], "--encoder-frames"),
    (["benchmark"], "--baseline-frames"),
    (["benchmark"], "--e2e-reads"),
    (["benchmark"], "--batch-tokens"),
    (["benchmark"], "--reads-per-device"),
]


def _refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.create_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("prefix,flag", NUMERIC)
@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "-1", "eight", "1e3", "nan"])
def test_numeric_flag_out_of_range_is_one_line_exit_2(prefix, flag, value, capsys):
    argv = [*prefix, f"{flag}={value}"]
    err = _refused(argv, capsys)
    assert flag in err


@pytest.mark.parametrize("text", ["1/" + HUGE, HUGE + "/" + HUGE, "0/4", "5/4", "1/100001", "-1/4", "1/0"])
def test_shard_beyond_bounds_is_refused(text, capsys):
    err = _refused(["predict", "x.fa", "-o", "o", "--shard", text], capsys)
    assert "--shard" in err


def test_shard_at_bound_is_accepted():
    args = cli.create_parser().parse_args(["predict", "x.fa", "-o", "o", "--shard", "100000/100000"])
    assert args.shard == "100000/100000"


def test_defaults_lie_within_their_ranges():
    parser = cli.create_parser()
    for prefix, _flag in NUMERIC:
        parser.parse_args(prefix)  # the defaults themselves parse


def test_int_in_names_the_range():
    with pytest.raises(argparse.ArgumentTypeError, match=r"use 1-5$"):
        int_in(1, 5)("6")
    assert int_in(0, 5)(" 0 ") == 0


def test_help_documents_the_chunk_size_range(capsys):
    with pytest.raises(SystemExit):
        cli.create_parser().parse_args(["predict", "--help"])
    assert "[3-100,000]" in capsys.readouterr().out


@pytest.mark.parametrize("info,needle", [
    ({"status": "running", "parameters": {"shard": "1/2"}}, "not finished"),
    ({"status": "complete", "parameters": {"shard": "1/2"}}, "not finished"),
    ({"status": "complete", "parameters": {}, "shard": {"index": 1, "count": 10**30}}, "no valid shard"),
    ({"status": "complete", "parameters": {}}, "not a shard directory"),
])
def test_merge_names_a_running_killed_or_forged_shard(info, needle, tmp_path):
    import json

    from virnucpro.errors import InputError
    from virnucpro.pipeline.shards import read_shards

    (tmp_path / "run_info.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match=needle):
        read_shards([tmp_path])
