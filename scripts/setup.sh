#!/usr/bin/env bash
# Idempotent set-up shared by scripts/dev.sh and scripts/test.sh: a .venv with requirements-dev.txt,
# and Azurite from npm at the version pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
venv=${VENV:-.venv}  # scripts/test.sh: CI runs the suite in a second venv on another Python
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv ($("$python" --version))"
  "$python" -m venv "$venv"
fi
# requirements-dev.txt includes requirements.txt, which pins the deployed set through constraints.txt:
# the venv gets the versions a deployment gets.
echo "== installing Python packages (requirements-dev.txt, constraints.txt)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# tests/worker: the Python worker library the Functions host runs the app under (test only, never deployed).
# It is published for Python >= 3.13; on older Pythons the same library stands in for the 3.11 worker, which
# is not on PyPI (requirements-worker.txt says why).
echo "== installing the Functions worker library for tests/worker (requirements-worker.txt)"
older=$("$venv/bin/python" -c 'import sys; print("--ignore-requires-python" if sys.version_info < (3, 13) else "")')
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check $older -r requirements-worker.txt

if [ ! -x node_modules/.bin/azurite ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (it brings npm), then run again" >&2; exit 1; }
  echo "== installing Azurite (pinned in package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The dashboard's browser test drives Debian's Chromium headless (Playwright, without its own browser download).
if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Chromium (Debian package) for the dashboard's browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "!! Chromium is missing: the dashboard test needs it (Debian/Ubuntu: sudo apt-get install chromium)" >&2
  fi
fi
