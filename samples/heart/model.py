"""Apply the heart model outside the emulator, e.g. to compute expected predictions in tests.

The model code lives in code/heart_model.py because it ships with the scoring script (the deployment's
code folder is all the worker can import); this module loads that same file by path.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL_JSON = HERE / "model" / "model.json"
DATA_DIR = HERE / "data"


def _load_module():
    name = "samples_heart_model_impl"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "code" / "heart_model.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses need the module registered while executing
    spec.loader.exec_module(mod)
    return mod


_impl = _load_module()
HeartModel = _impl.HeartModel
format_prediction = _impl.format_prediction
score_rows = _impl.score_rows


def load_model() -> "HeartModel":
    return HeartModel.load(str(MODEL_JSON))


def expected_lines(file_name: str, csv_text: str, model: "HeartModel | None" = None) -> list[str]:
    """The append_row lines score.py produces for one CSV file."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    return score_rows(model or load_model(), file_name, rows)


def sample_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.csv"))
