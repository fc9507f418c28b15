"""What the code sandbox costs per execution: a trivial program run through `agentic_lab.sandbox.run_python` against
the same program run by a bare `subprocess.run` of the same interpreter (no limits, no namespaces) and by `exec` in
this process (no isolation at all). Executions per second of each, measured in the same run, one after the other.

    python benchmarks/sandbox.py [--seconds 10]

The ratio that matters is the sandbox against the bare subprocess: a separate process is what any sandbox costs
at least; the rest is the price of the limits and of bubblewrap's namespaces.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import time

from agentic_lab.sandbox import interpreter, isolation, run_python

PROGRAM = "def f(xs):\n    return sorted(xs)[::-1]\nassert f([3, 1, 2]) == [3, 2, 1]\nprint('ok')\n"


def rate(run, seconds: float) -> float:
    """Executions per second, after one untimed run."""
    run()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per way of running")
    args = parser.parse_args()
    print(f"sandbox: {isolation()}; interpreter {interpreter()}")
    def exec_here() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(PROGRAM, {})   # noqa: S102 - our own fixed program
    in_process = rate(exec_here, args.seconds)
    bare = rate(lambda: subprocess.run([interpreter(), "-I", "-S", "-c", PROGRAM], capture_output=True, check=True),
                args.seconds)
    sandboxed = rate(lambda: run_python(PROGRAM), args.seconds)
    for name, value in (("exec in this process", in_process), ("bare subprocess", bare), ("sandbox", sandboxed)):
        print(f"{name:22s} {value:9,.1f} runs/s  {1000 / value:8.2f} ms a run")
    print(f"RESULT sandbox_overhead {bare / sandboxed:.2f}")


if __name__ == "__main__":
    main()
