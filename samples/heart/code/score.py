"""Batch scoring script for the heart sample, written to the Azure ML init()/run(mini_batch) contract.

Pure Python (csv + math), so it runs without pandas. Returns one element per data row:
"<file_name> <row_index> <prediction> <probability>".
"""
import csv
import glob
import logging
import os

from heart_model import HeartModel, score_rows

model = None


def init():
    global model
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    # Registered models usually sit one folder down; accept both layouts.
    found = glob.glob(os.path.join(model_dir, "model.json")) or glob.glob(os.path.join(model_dir, "*", "model.json"))
    if not found:
        raise FileNotFoundError(f"model.json not found under {model_dir}")
    model = HeartModel.load(found[0])
    logging.info("heart model loaded from %s", found[0])
    print(f"init: loaded {found[0]}")


def is_control_file(path):
    """Markers and manifests (``_SUCCESS``, ``_manifest.json``, ``.keep``) land in the data folder, and a batch
    job hands every top-level file to run(): skip them, as Spark and Hadoop readers do."""
    return os.path.basename(path).startswith(("_", "."))


def run(mini_batch):
    results = []
    for path in mini_batch:
        if is_control_file(path):
            print(f"skipped control file {os.path.basename(path)}")
            continue
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        results.extend(score_rows(model, os.path.basename(path), rows))
        print(f"scored {os.path.basename(path)}: {len(rows)} rows")
    return results
