#!/usr/bin/env bash
# The main job on a laptop: set up, start Azurite and the batch-endpoint emulator, then `func start`.
#   scripts/dev.sh          bring the app up (Ctrl-C stops everything it started)
#   scripts/dev.sh demo     in a second terminal: land the sample folder and follow it to the sink
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m tools.dev "$@"
