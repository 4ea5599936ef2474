#!/bin/sh
# azd preprovision: the routes document deployed with the code (config/routes.json) must exist and parse,
# because infra/main.bicep reads it to make one Event Grid subscription per landing route.
set -eu
cd "$(dirname "$0")/../.."
if [ ! -f config/routes.json ]; then
  echo "config/routes.json is missing: copy config/routes.example.json to config/routes.json, set your" >&2
  echo "endpoints, datastores and sinks (connections LANDING, CURATED, AML_DATASTORE), then run azd up again." >&2
  exit 1
fi
python3 - <<'PY'
import json, sys
doc = json.load(open("config/routes.json"))
landing = [r["name"] for r in doc.get("routes", []) if r.get("match", {}).get("connection") == "LANDING"]
if not landing:
    sys.exit("config/routes.json: no route has match.connection LANDING; nothing would receive landing events")
print("routes landing on the LANDING account:", ", ".join(landing))
PY
