#!/usr/bin/env bash
# Smoke test of the main command, as a user runs it: `scripts/dev.sh` in the background (Azurite, the
# emulator and the app on the local development host, or `func start` where Core Tools is installed), then
# `scripts/dev.sh demo` through the app's real HTTP port, then stop everything. Exit code: the demo's.
set -euo pipefail
cd "$(dirname "$0")/.."
log=.local/smoke-dev.log
mkdir -p .local
setsid bash scripts/dev.sh > "$log" 2>&1 &
dev_pid=$!
stop() { kill -TERM -- "-$dev_pid" 2>/dev/null || true; wait "$dev_pid" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 120); do
  if (exec 3<>/dev/tcp/127.0.0.1/7071) 2>/dev/null; then break; fi
  if ! kill -0 "$dev_pid" 2>/dev/null; then echo "scripts/dev.sh exited early:"; cat "$log"; exit 1; fi
  sleep 1
done
echo "== smoke: the app listens on 7071; running scripts/dev.sh demo"
if ! bash scripts/dev.sh demo --timeout 180; then
  echo "== smoke: the demo failed; the app's log:"; tail -n 60 "$log"; exit 1
fi
echo "== smoke: passed"
