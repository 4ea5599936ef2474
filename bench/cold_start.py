"""Whole-process cold import time of ``function_app`` against ``import azure.durable_functions`` alone.

Each sample is a fresh interpreter (what a cold worker pays); the kinds alternate so that machine noise
hits all alike. Prints medians, the spread, and the ratios. ``function_app`` is measured twice: as is, and
with telemetry configured (``APPLICATIONINSIGHTS_CONNECTION_STRING`` set, as in Azure: the exporter must
load only at the first span, not at import). The first span's one-off cost is shown for information, and so
is the first config load (in a fresh process after ``import function_app``: pydantic's import, the routes
document's validator build and the validation of config/routes.local.json, which the first call pays).

    python -m bench.cold_start [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A loopback ingestion endpoint with nothing listening, and no statsbeat: nothing leaves the machine.
TELEMETRY_ON = {"APPLICATIONINSIGHTS_CONNECTION_STRING":
                "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/",
                "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true"}
BASE = "baseline: import azure.durable_functions"
APP = "function_app (index-ready)"
APP_TELEMETRY = "function_app, telemetry configured"
SUBJECTS: dict[str, tuple[str, dict]] = {
    BASE: ("import azure.durable_functions", {}),
    APP: ("import function_app", {}),
    APP_TELEMETRY: ("import function_app", TELEMETRY_ON),
    "  + first span (exporter loads; one-off)": (
        "import function_app; from shared import telemetry\nwith telemetry.span('submit'): pass", TELEMETRY_ON),
    "python -c pass": ("pass", {}),
}


def sample(code: str, env: dict) -> float:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("APPLICATIONINSIGHTS")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env={**environ, **env},
                   stderr=subprocess.DEVNULL if env else None)  # the exporter retries the dead endpoint
    return time.perf_counter() - started


# Run after `import function_app` in a fresh process; prints the first load_settings call's time in ms.
FIRST_CONFIG_LOAD = ("import function_app, time\n"
                     "from shared.config import load_settings\n"
                     "started = time.perf_counter()\n"
                     "load_settings({'BATCH_CONFIG_PATH': 'config/routes.local.json',"
                     " 'AzureWebJobsStorage': 'UseDevelopmentStorage=true'})\n"
                     "print((time.perf_counter() - started) * 1000)")


def first_config_load_ms(runs: int) -> list[float]:
    return [float(subprocess.run([sys.executable, "-c", FIRST_CONFIG_LOAD], cwd=ROOT, check=True, text=True,
                                 capture_output=True).stdout) for _ in range(runs)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="3 runs each instead of 15")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs = 3
    for code, env in SUBJECTS.values():  # warm the OS file cache; what is measured is the interpreter's work
        sample(code, env)
    times: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    for _ in range(args.runs):
        for name, (code, env) in SUBJECTS.items():
            times[name].append(sample(code, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"cold process start, {args.runs} runs each, alternating (median, min-max):")
    for name, values in times.items():
        print(f"  {name:45s} {medians[name] * 1000:7.1f} ms  ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})")
    for app in (APP, APP_TELEMETRY):
        extra = medians[app] - medians[BASE]
        print(f"  {app} / durable alone: {medians[app] / medians[BASE]:.2f}x"
              f" (+{extra * 1000:.1f} ms for the app's own modules)")
    loads = first_config_load_ms(args.runs)
    print(f"first config load: {statistics.median(loads):.1f} ms (median of {args.runs} fresh processes,"
          f" {min(loads):.1f}-{max(loads):.1f}; pydantic import, validator build and validation of"
          " config/routes.local.json)")


if __name__ == "__main__":
    main()
