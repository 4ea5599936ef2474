"""Whole-process cold import time of ``function_app`` against ``import azure.durable_functions`` alone.

Each sample is a fresh interpreter (what a cold worker pays); the two kinds alternate so that machine
noise hits both alike. Prints medians, the spread, and the ratio.

    python -m bench.cold_start [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = {
    "baseline: import azure.durable_functions": "import azure.durable_functions",
    "function_app (index-ready)": "import function_app",
    "python -c pass": "pass",
}


def sample(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    for code in SUBJECTS.values():  # warm the OS file cache; what is measured is the interpreter's work
        sample(code)
    times: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    for _ in range(args.runs):
        for name, code in SUBJECTS.items():
            times[name].append(sample(code))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"cold process start, {args.runs} runs each, alternating (median, min-max):")
    for name, values in times.items():
        print(f"  {name:45s} {medians[name] * 1000:7.1f} ms  ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})")
    base = "baseline: import azure.durable_functions"
    app = "function_app (index-ready)"
    extra = medians[app] - medians[base]
    print(f"  function_app / durable alone: {medians[app] / medians[base]:.2f}x"
          f" (+{extra * 1000:.1f} ms for the app's own modules)")


if __name__ == "__main__":
    main()
