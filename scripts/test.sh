#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/config -x
# PYTHON (the interpreter that creates the venv) and VENV (its folder, default .venv) let CI run the suite
# on a second Python, e.g. PYTHON=~/.pyenv/versions/3.13.0/bin/python VENV=.venv-3.13 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export VENV=${VENV:-.venv}
bash scripts/setup.sh
echo "== running the tests ($("$VENV/bin/python" --version))"
exec "$VENV/bin/python" -m pytest -q "$@"
