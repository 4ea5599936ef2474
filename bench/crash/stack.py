"""The stack a scenario runs on: Azurite, the batch-endpoint emulator in-process, the app settings."""

from __future__ import annotations

import contextlib
import os
from typing import Any
from urllib.parse import urlsplit

from .faults import Faults
from .settings import DATASTORE_CONTAINER, POLL, PROFILES, STATE_SECONDS


ENV_NAMES = ("AzureWebJobsStorage", "CRASH_SINK", "AML_MANAGEMENT_URL", "BATCH_CONFIG_PATH", "STATE_CONNECTION",
             "AZURE_CLIENT_ID", "STATE_CONTAINER", "BATCH_CONFIG_JSON")


class Stack:
    """Azurite (its own, or ``azurite`` given), the emulator in-process, and the app settings (restored by
    :meth:`close`)."""

    def __init__(self, azurite: Any = None) -> None:
        from azure.storage.blob import BlobServiceClient

        from emulator import EmulatorServer, load_config
        from tests.emulator.helpers import SAMPLE, emulator_config_dict
        from tests.support.azurite import start_azurite

        self.saved_env = {name: os.environ.get(name) for name in ENV_NAMES}
        self.own_azurite = azurite is None
        self.azurite = azurite or start_azurite()
        self.landing = BlobServiceClient.from_connection_string(self.azurite.default.connection_string)
        self.sink = BlobServiceClient.from_connection_string(self.azurite.sink.connection_string)
        with contextlib.suppress(Exception):
            self.landing.create_container(DATASTORE_CONTAINER)
        cfg = emulator_config_dict(self.azurite.default.blob_connection_string)
        cfg["datastores"]["workspaceblobstore"]["container"] = DATASTORE_CONTAINER
        cfg["timings"] = {k: STATE_SECONDS for k in cfg["timings"]}
        self.emulator = EmulatorServer(load_config(cfg, SAMPLE))
        self.emulator.start()
        Faults.emulator_netloc = urlsplit(self.emulator.base_url).netloc
        os.environ.update({"AzureWebJobsStorage": self.azurite.default.connection_string,
                           "CRASH_SINK": self.azurite.sink.connection_string,
                           "AML_MANAGEMENT_URL": self.emulator.management_url})
        for name in ("BATCH_CONFIG_PATH", "STATE_CONNECTION", "AZURE_CLIENT_ID"):
            os.environ.pop(name, None)

    def set_profile(self, profile: str) -> None:
        """The batch service's behaviour: ``strict`` ignores client job names and drops tags and properties."""
        emu = self.emulator.emulator
        emu.behaviour = emu.config.behaviour.updated(PROFILES[profile])

    def close(self) -> None:
        self.emulator.stop()
        if self.own_azurite:
            self.azurite.stop()
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def document(self, landing: str, sinks: list[str]) -> dict:
        workspace = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-local",
                     "name": "ws-local"}
        landings = {"heart": {"mode": "marker", "marker_name": "_SUCCESS"},
                    "heartm": {"mode": "manifest", "manifest_name": "_manifest.json", "manifest_wait_minutes": 10},
                    "heartq": {"mode": "quiet_period", "quiet_seconds": 2}}
        routes = [{
            "name": name,
            "match": {"container": landing, "prefix": f"{name}/"},
            "landing": rule,
            "endpoint": {"scoring_uri": self.emulator.scoring_uri("heart"), "deployment": None,
                         "workspace": workspace},
            "input": {"type": "uri_folder", "name": "heart_dataset"},
            "output": {"datastore": "workspaceblobstore", "path": f"batch/{name}/{{run_id}}/predictions.csv"},
            "overrides": {"mini_batch_size": 2, "instance_count": 1},
            "poll": dict(POLL),
            "sinks": [{"url": f"{self.azurite.sink.blob_url}/{sink}/scores/{{folder}}/", "connection": "CRASH_SINK"}
                      for sink in sinks],
        } for name, rule in landings.items()]
        return {"datastores": {"workspaceblobstore": {"account_url": self.azurite.default.blob_url,
                                                      "container": DATASTORE_CONTAINER,
                                                      "connection": "AzureWebJobsStorage"}},
                "routes": routes}
