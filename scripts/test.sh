#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/config -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== running the tests"
exec .venv/bin/python -m pytest -q "$@"
