"""Instructions and cache misses per record of the Soorma runtime vs the lean handler (cachegrind).

CPU time on a shared 2-core box moves by ±10 % between runs; instruction counts do not. This
runs each handler of `runtime_overhead.py` under valgrind's cachegrind in fresh processes, once
with one round of 2,000 events and once with three, and reports the difference per record
(start-up and imports cancel out): instructions, first-level misses (instructions, data) and
misses of a last level sized like this box's L2 (1 MB, 16-way), where a larger working set shows.

    .venv/bin/python benchmarks/instruction_counts.py [--handlers soorma lean]   # needs valgrind

Slow (valgrind runs ≈ 50x slower): about two minutes per handler.
"""

from __future__ import annotations

import argparse
import copy
import io
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVENTS = 2000
COUNTERS = {"I": "instructions", "I1": "I1 misses", "D1": "D1 misses", "LL": "L2-sized misses"}
_SUMMARY = re.compile(r"==\d+== (I\s+refs|I1\s+misses|D1\s+misses|LL\s+misses):\s+([\d,]+)")


def run_rounds(handler_name: str, rounds: int) -> None:
    """In this process: `rounds` rounds of `EVENTS` events through one benchmark handler."""
    sys.argv = [sys.argv[0]]
    sys.path.insert(0, str(HERE))
    import runtime_overhead as bench
    from stubs import StubPutEvents, StubTable

    from soorma_dev.harness import LambdaContextStub

    table, put = StubTable(), StubPutEvents()
    builders = {
        "soorma": lambda: bench.build_soorma(table, put),
        "soorma-off": lambda: bench.build_soorma(table, put, claims=False),
        "lean": lambda: bench.build_lean(table, put),
        "lean-off": lambda: bench.build_lean(table, put, claims=False),
        "lean-direct": lambda: bench.build_lean(table, put, direct=True),
    }
    handler = builders[handler_name]()
    for name in list(logging.Logger.manager.loggerDict):
        bench.silence(name, io.StringIO())
    context = LambdaContextStub("soorma-bench")
    batches = bench.sqs_batches(EVENTS)
    for _ in range(rounds):
        table.reset()
        for batch in copy.deepcopy(batches):
            handler(batch, context)


def counts(handler_name: str, rounds: int) -> dict[str, int]:
    """The cachegrind totals of a fresh process running `rounds` rounds."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        "--LL=1048576,16,64",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--run",
        handler_name,
        str(rounds),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    found: dict[str, int] = {}
    for name, value in _SUMMARY.findall(output):
        found[name.split()[0]] = int(value.replace(",", ""))
    return found


def per_record(handler_name: str) -> dict[str, float]:
    """Counts per record: (three rounds - one round) / two rounds of events."""
    one, three = counts(handler_name, 1), counts(handler_name, 3)
    return {name: (three[name] - one[name]) / (2 * EVENTS) for name in COUNTERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handlers", nargs="+", default=["soorma", "lean"])
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_rounds(args.run[0], int(args.run[1]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    results = {name: per_record(name) for name in args.handlers}
    for name, found in results.items():
        print(f"{name:12s}", "  ".join(f"{COUNTERS[c]} {found[c]:>9,.0f}" for c in COUNTERS))
    first, *others = args.handlers
    for other in others:
        ratios = "  ".join(
            f"{COUNTERS[c]} {results[first][c] / results[other][c]:.2f}" for c in COUNTERS
        )
        print(f"ratio {first}/{other}: {ratios}")


if __name__ == "__main__":
    main()
