#!/bin/sh
# azd postdeploy: once the functions are deployed (and so indexed), provision again with
# FUNCTIONS_DEPLOYED=true so the Event Grid subscriptions that target on_blob_created / on_aml_run_event are
# created. Later `azd up` runs create them during provision already, and this hook does nothing.
set -eu
if [ "$(azd env get-value FUNCTIONS_DEPLOYED 2>/dev/null || true)" = "true" ]; then
  exit 0
fi
echo "== the functions are deployed: creating the Event Grid subscriptions that target them"
azd env set FUNCTIONS_DEPLOYED true
azd provision --no-prompt
