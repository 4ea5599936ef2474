#!/usr/bin/env bash
# Every benchmark in bench/ at a smoke size (seconds each), so that none of them silently stops running.
# Each must exit 0; the figures at this size mean little (bench/README.md has the full-size commands and
# results). Azurite comes from node_modules (npm ci) or AZURITE_BIN, as for the tests.
# VENV (default .venv) picks the interpreter, as in scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${VENV:-.venv}/bin/python
benches=(
  "bench.cold_start --smoke"
  "bench.landing_bench --smoke"
  "bench.poll_bench --smoke"
  "bench.waiter_bench --smoke"
  "bench.copy_bench --smoke"
  "bench.crash_bench --smoke"
)
mkdir -p .local
failed=()
for bench in "${benches[@]}"; do
  log=.local/bench-smoke-${bench%% *}.log
  started=$SECONDS
  if "$python" -m $bench > "$log" 2>&1; then
    echo "== bench smoke: python -m $bench passed in $((SECONDS - started)) s ($(tail -n 1 "$log" | cut -c1-100))"
  else
    echo "== bench smoke: python -m $bench FAILED after $((SECONDS - started)) s; its last lines:"
    tail -n 20 "$log"
    failed+=("$bench")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "== bench smoke: failed: ${failed[*]}"
  exit 1
fi
echo "== bench smoke: all ${#benches[@]} benchmarks ran"
