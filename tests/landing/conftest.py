"""Landing fixtures: a routes document per test on the session Azurite, with unique containers."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest

from shared.config import parse_settings

_counter = itertools.count()


def routes_document(account_url: str, landing: str, outputs: str, modes: dict[str, dict]) -> dict:
    """One route per entry of ``modes`` (route name → landing section), each on prefix ``<name>/``."""
    routes = []
    for name, landing_rule in modes.items():
        input_type = "uri_file" if landing_rule.get("mode") == "per_file" else "uri_folder"
        routes.append({
            "name": name,
            "match": {"container": landing, "prefix": f"{name}/"},
            "landing": landing_rule,
            "endpoint": {"scoring_uri": "http://127.0.0.1:9/endpoints/e/jobs"},
            "input": {"type": input_type},
            "output": {"datastore": "out", "path": f"scores/{name}/{{run_id}}/predictions.csv"},
            "sinks": [{"url": f"{account_url}/{outputs}/sink/{name}/{{run_id}}/"}],
        })
    return {"datastores": {"out": {"account_url": account_url, "container": outputs}}, "routes": routes}


@dataclass
class LandingEnv:
    """A configured app on Azurite: ``env`` holds the app settings a worker would see."""

    azurite: Any
    landing: str
    outputs: str
    state: str
    document: dict
    env: dict

    @property
    def account_url(self) -> str:
        return self.azurite.default.blob_url

    @property
    def settings(self):
        return parse_settings(copy.deepcopy(self.document), self.env)

    def service(self):
        from azure.storage.blob import BlobServiceClient

        if "_service" not in self.__dict__:
            self.__dict__["_service"] = BlobServiceClient.from_connection_string(
                self.azurite.default.connection_string)
        return self.__dict__["_service"]

    def container(self, name=None):
        return self.service().get_container_client(name or self.landing)

    def blob_url(self, path: str) -> str:
        return f"{self.account_url}/{self.landing}/{path}"

    def upload(self, path: str, data: bytes = b"x,y\n1,2\n") -> dict:
        """Upload a blob and return the Event Grid ``data`` of its BlobCreated event."""
        props = self.container().get_blob_client(path).upload_blob(data, overwrite=True)
        # Event Grid sends the ETag bare (0x8D...); the SDK returns it quoted
        return {"api": "PutBlob", "url": self.blob_url(path), "eTag": props["etag"].strip('"'),
                "contentLength": len(data), "blobType": "BlockBlob"}

    def context(self, store_factory=None):
        """A fresh handler context (route index + store) on these settings, not touching os.environ."""
        from azure.storage.blob import BlobServiceClient

        from shared.landing.handler import LandingContext
        from shared.landing.store import LandingStore
        from shared.storage.connections import account_url_of

        settings = self.settings
        conn = self.azurite.default.connection_string
        store = LandingStore(settings, store_factory or (lambda _c: BlobServiceClient.from_connection_string(conn)))
        return LandingContext(settings, store, account_url_of=lambda c: account_url_of(c, self.env))

    def ledger_records(self) -> list[dict]:
        state = self.container(self.state)
        if not state.exists():
            return []
        return [json.loads(state.download_blob(b.name).readall())
                for b in state.list_blobs(name_starts_with="runs/")]


@pytest.fixture
def landing_env(azurite, request):
    """Containers unique to the test; modes via ``@pytest.mark.parametrize`` are not needed: tests pass
    their own routes through ``make(...)``."""
    n = next(_counter)

    def make(modes: dict[str, dict]) -> LandingEnv:
        landing, outputs, state = f"landing{n}", f"outputs{n}", f"state{n}"
        account_url = azurite.default.blob_url
        env = {"AzureWebJobsStorage": azurite.default.connection_string, "STATE_CONTAINER": state,
               "BATCH_CONFIG_JSON": ""}
        document = routes_document(account_url, landing, outputs, modes)
        env["BATCH_CONFIG_JSON"] = json.dumps(document)
        le = LandingEnv(azurite, landing, outputs, state, document, env)
        le.container().create_container()
        return le

    return make
