"""Every subcommand has a description, every flag a help text, each default shown once; --version."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from virnucpro.argtypes import range_text
from virnucpro.cli import create_parser

ROOT = Path(__file__).resolve().parents[1]


def _subparsers():
    parser = create_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    return [(name, sp, helps.get(name)) for name, sp in sub.choices.items()]


@pytest.mark.parametrize("name,sp,summary", _subparsers(), ids=[n for n, _, _ in _subparsers()])
def test_every_flag_has_help_and_defaults_show_once(name, sp, summary):
    assert summary and "\n" not in summary
    for action in sp._actions:
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    text = sp.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text and "(default: True)" not in text
    for block in text.split("\n  -")[1:]:
        assert block.count("default") <= 1, block


def test_version_names_the_commit_in_a_checkout():
    """Run from this checkout (an editable install, or src/ on the path), --version names the checkout's commit; an
    installed copy (`pip install .`, as the README's workflow line does) is no checkout and names none."""
    out = subprocess.run([sys.executable, "-m", "virnucpro", "--version"], capture_output=True, text=True).stdout
    assert out.startswith("virnucpro ")
    where = subprocess.run([sys.executable, "-c", "import virnucpro; print(virnucpro.__file__)"], capture_output=True,
                           text=True).stdout.strip()
    in_git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    if Path(where).resolve().is_relative_to(ROOT / "src") and in_git.returncode == 0:
        assert f"(commit {in_git.stdout.strip()})" in out
    else:
        assert "(commit" not in out, f"{where} is not this checkout, yet --version names a commit: {out}"


@pytest.mark.parametrize("name,sp,summary", _subparsers(), ids=[n for n, _, _ in _subparsers()])
def test_every_bounded_number_flag_names_its_range_in_help(name, sp, summary):
    """A numeric flag's range is in its help, once and in one form (`--threads ... [0-1,000,000]`), not only in the
    error for a bad value."""
    formatter = sp._get_formatter()
    bounded = [a for a in sp._actions if getattr(a.type, "bounds", None) and a.help != argparse.SUPPRESS]
    for action in bounded:
        shown = formatter._expand_help(action)  # the text --help prints for this flag
        low, high = action.type.bounds
        assert shown.count(f"[{range_text(low, high)}]") == 1, f"{name} {action.option_strings}: {shown}"


def test_an_unknown_flag_points_at_its_subcommands_help(capsys):
    """argparse reports unrecognized arguments from the top-level parser: the hint still names the subcommand."""
    from virnucpro.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["predict", "in.fa", "-o", "out", "--chunksize", "300"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--chunksize" in err and "(see `virnucpro predict --help`)" in err
    with pytest.raises(SystemExit):
        main(["predct", "in.fa"])
    assert "(see `virnucpro --help`)" in capsys.readouterr().err
