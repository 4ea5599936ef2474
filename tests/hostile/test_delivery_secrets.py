"""Hostile catalogue, surface ``delivery.sas``: sinks and datastores on SAS connection strings that cannot do
what delivery needs. Each run ends Failed naming the sink and file, writes nothing outside its place, and
the signature appears in no history, status, output or log record (the real orchestrator and activities on
Azurite)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.delivery.conftest import DeliveryEnv, payload_bytes, run_to_end
from tests.delivery.test_activities import sas_connection


@pytest.fixture
def env(azurite, monkeypatch) -> DeliveryEnv:
    return DeliveryEnv(azurite, monkeypatch)


@pytest.fixture
def durable(app_functions):
    from tests.delivery.conftest import START
    from tests.support.durable_host import DurableTestHost, split_functions

    orchestrators, activities = split_functions(app_functions.values())
    with DurableTestHost(orchestrators, activities, start=START) as host:
        yield host


def _other_account_sas(env):
    connection, sig = sas_connection(env.azurite.default, read=True, write=True, list=True, create=True)
    return "LAKE", connection, sig, "connection 'LAKE' reaches"


def _sink(**permissions):
    def make(env):
        connection, sig = sas_connection(env.azurite.sink, **permissions)
        return "LAKE", connection, sig, "storage refused the credentials"
    return make


def _garbled_signature(env):
    connection, sig = sas_connection(env.azurite.sink, read=True, write=True, list=True, create=True)
    forged = sig[:-6] + ("AAAAAA" if not sig.endswith("AAAAAA") else "BBBBBB")
    return "LAKE", connection.replace(sig, forged), forged, "storage refused the credentials"


def _source(**permissions):
    def make(env):
        connection, sig = sas_connection(env.azurite.default, **permissions)
        return "AML_DS", connection, sig, None
    return make


CASES = {
    "sink-sas-read-only": _sink(read=True, list=True),
    "sink-sas-expired": _sink(read=True, write=True, list=True, create=True, valid_hours=-1),
    "sink-sas-list-only": _sink(list=True),
    "sink-sas-garbled-signature": _garbled_signature,
    "sink-sas-of-another-account": _other_account_sas,
    "datastore-sas-list-only": _source(list=True),
    "datastore-sas-expired": _source(read=True, list=True, valid_hours=-1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_sas_connection_that_cannot_deliver_fails_cleanly_and_never_shows_its_signature(
        catalogue, env, durable, monkeypatch, caplog, case):
    caplog.set_level(logging.DEBUG)
    setting, connection, signature, reason = CASES[case](env)
    with catalogue.case("delivery.sas", case, secrets=[signature]) as c:
        monkeypatch.setenv(setting, connection)
        run = env.run_input()
        run_id = run["run"]["run_id"]
        # the output is written with the key: only the delivery reads through the hostile connection
        env.put_output(run_id, "predictions.csv", payload_bytes(2000))

        status = run_to_end(durable, run)

        out = status["output"]
        c.check(out["outcome"] == "Failed", f"outcome {out['outcome']}")
        expected = (f"sink 'lake': file 'predictions.csv': {reason}" if setting == "LAKE" else
                    "locating the outputs of azureml://datastores/workspaceblobstore/paths/batch/heart/"
                    f"{run_id}/predictions.csv: storage refused the credentials of the datastore's connection")
        c.check(expected in out["error"], f"error {out['error']!r} lacks {expected!r}")
        lake = [b.name for b in env.sink_service.get_container_client(env.lake_container).list_blobs()] \
            if env.sink_service.get_container_client(env.lake_container).exists() else []
        c.check("_RESULT.json" not in " ".join(lake), f"a receipt was written: {lake}")
        c.no_secret_in(json.dumps(durable.executions(run_id)), json.dumps(status), out["error"])
