"""`virnucpro selftest`: the whole method on tiny random models and the shipped example, offline, leaving nothing."""

from __future__ import annotations

import argparse
import time

from virnucpro.commands import flags


def add_parser(sub) -> None:
    p = flags.subparser(sub, "selftest", "check this installation end to end on tiny random models (no download, "
                        "nothing left behind)", "Builds tiny random models in the published file formats in a "
                        "temporary directory and runs every stage on the shipped example: reading, preparation "
                        "(compiled and numpy paths), both encoders with this device's attention kernels against the "
                        "reference kernel, the classifier, the tables, regions, the report, a killed and resumed run, "
                        "and two shards merged. One line per stage; exit 0 only when every stage is ok, else 1. "
                        "Nothing is downloaded, and nothing is written to the working directory, $HOME or the "
                        "model cache.")
    p.add_argument("--device", type=flags.device_arg, default="auto", help="auto (every GPU torch sees, else the CPU), "
                   "cpu, cuda, cuda:N, or a comma-separated list (each GPU of a node, as predict would use them)")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from virnucpro.pipeline.devices import parse_devices, resolve_devices
    from virnucpro.testing.capabilities import describe, versions
    from virnucpro.testing.sandbox import sandbox
    from virnucpro.testing.selftest import Context, run_stages

    t = time.perf_counter()
    with sandbox() as root:  # before CUDA starts: its caches, like every other, go there
        devices = resolve_devices(parse_devices(args.device))  # a GPU torch does not see: one line, exit 2
        say("virnucpro selftest: tiny random models, the shipped example, nothing downloaded")
        say(versions())
        for device in dict.fromkeys(devices):
            for line in describe(device):
                say(f"  {line}")
        ctx = Context(root, devices, args.device, _example(root), verbose=args.verbose)
        results = run_stages(ctx, say=lambda r: say(f"{r.name:<11} {'ok' if r.ok else 'FAIL':<4}  {r.detail}"
                                                    f" ({r.seconds:.1f} s)"))
    failed = [r.name for r in results if not r.ok]
    took = f"in {time.perf_counter() - t:.0f} s ({_cpu_seconds():.0f} CPU-seconds)"
    if failed:
        say(f"verdict: FAIL, {len(failed)} of {len(results)} stages failed ({', '.join(failed)}) {took}")
        return 1
    say(f"verdict: ok, all {len(results)} stages passed on {', '.join(dict.fromkeys(devices))} {took}")
    return 0


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (on a busy machine the wall time says little)."""
    import resource

    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in used)


def say(line: str) -> None:
    print(line, flush=True)


def _example(root):
    """The shipped example FASTA, copied into the sandbox."""
    from importlib.resources import files

    from virnucpro.errors import InputError

    source = files("virnucpro").joinpath("data/example.fa")
    if not source.is_file():
        raise InputError("the example FASTA shipped with virnucpro is missing (virnucpro/data/example.fa): reinstall "
                         "virnucpro")
    path = root / "example.fa"
    path.write_bytes(source.read_bytes())
    return path
