"""Regenerate data/heart-unlabeled-*.csv (deterministic; synthetic rows in UCI heart-disease ranges).

    python samples/heart/make_data.py
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca",
          "thal"]
FILES, ROWS = 4, 20


def row(rng: random.Random) -> list[object]:
    return [rng.randint(29, 77), rng.randint(0, 1), rng.randint(1, 4), rng.randint(94, 200), rng.randint(126, 409),
            int(rng.random() < 0.15), rng.choice([0, 0, 1, 2]), rng.randint(88, 202), int(rng.random() < 0.33),
            round(rng.choice([0, 0, 0.2, 0.6, 1.0, 1.4, 2.0, 2.6, 3.4, 4.2]), 1), rng.randint(1, 3),
            rng.choice([0, 0, 0, 1, 2, 3]), rng.choice(["normal", "normal", "reversible", "fixed"])]


def main() -> None:
    rng = random.Random(20240401)
    out = Path(__file__).resolve().parent / "data"
    out.mkdir(exist_ok=True)
    for i in range(FILES):
        rows = [row(rng) for _ in range(ROWS)]
        if i == 2:
            rows[5][11] = "?"  # UCI marks missing 'ca' with '?'; the model imputes the mean
        with open(out / f"heart-unlabeled-{i}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(HEADER)
            w.writerows(rows)


if __name__ == "__main__":
    main()
