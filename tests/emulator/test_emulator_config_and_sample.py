"""Config loading (paths relative to the file) and the heart sample model, checked independently with numpy."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.emulator.helpers import SAMPLE
from emulator.config import ConfigError, load_config
from emulator.contract import parse_duration
from samples.heart.model import MODEL_JSON, expected_lines, load_model, sample_files


def test_sample_config_resolves_paths_relative_to_files():
    cfg = load_config(SAMPLE / "emulator.sample.json")
    ep = cfg.endpoints["heart"]
    dep = ep.deployments["classifier"]
    assert ep.default_deployment == "classifier"
    assert dep.code_dir == SAMPLE / "code" and dep.model_dir == SAMPLE / "model"
    assert dep.scoring_script == "score.py" and dep.settings.output_action == "append_row"
    assert cfg.datastores["workspaceblobstore"].container == "azureml-blobstore"
    assert "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1" in \
        cfg.storage_accounts["devstoreaccount1"].connection_string
    assert cfg.management_prefix == "/management"


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["endpoints"]["heart"].update(default_deployment="x"), "default_deployment"),
    (lambda c: c["datastores"]["workspaceblobstore"].update(account="nope"), "account 'nope'"),
    (lambda c: c["endpoints"]["heart"]["deployments"].update(bad={"type": "mlflow"}), "only 'model' and 'pipeline'"),
    (lambda c: c["endpoints"]["heart"]["deployments"].update(bad={"type": "pipeline"}), "needs component"),
    (lambda c: c["endpoints"]["heart"]["deployments"].update(
        bad={"code_configuration": {"code": "code", "scoring_script": "missing.py"}}), "not found"),
])
def test_bad_config_is_rejected_with_the_key(mutate, message):
    raw = json.loads((SAMPLE / "emulator.sample.json").read_text())
    mutate(raw)
    with pytest.raises(ConfigError, match=message):
        load_config(raw, SAMPLE)


def test_iso_durations():
    assert parse_duration("PT30S") == 30 and parse_duration("PT5M") == 300 and parse_duration("P1DT1H") == 90000
    assert parse_duration(12) == 12 and parse_duration("PT0.5S") == 0.5
    for bad in ("30", "PT", "P", "soon"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_heart_model_matches_a_numpy_evaluation():
    raw = json.loads(MODEL_JSON.read_text())
    thal = raw["categories"]["thal"]
    means, scales, coef = (np.array(raw[k]) for k in ("means", "scales", "coef"))
    model = load_model()
    for f in sample_files():
        rows = list(csv.DictReader(f.open()))
        x = np.array([[means[i] if r[k] in ("", "?") else float(thal.get(r[k], r[k]))
                       for i, k in enumerate(raw["features"])] for r in rows])
        probs = 1 / (1 + np.exp(-(raw["intercept"] + ((x - means) / scales) @ coef)))
        lines = expected_lines(f.name, f.read_text(), model)
        assert len(lines) == 20
        for i, line in enumerate(lines):
            fname, idx, pred, prob = line.split(" ")
            assert (fname, int(idx)) == (f.name, i)
            assert float(prob) == pytest.approx(probs[i], abs=1e-6)
            assert int(pred) == int(probs[i] >= 0.5)
