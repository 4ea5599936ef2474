"""Pure-Python logistic regression for the heart sample (shipped with the scoring code)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

MISSING = ("", "?", "NA", "nan")


@dataclass(frozen=True)
class HeartModel:
    features: tuple[str, ...]
    categories: Mapping[str, Mapping[str, float]]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    @classmethod
    def load(cls, path: str) -> "HeartModel":
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        return cls(tuple(raw["features"]), raw.get("categories", {}), tuple(raw["means"]), tuple(raw["scales"]),
                   tuple(raw["coef"]), float(raw["intercept"]), float(raw.get("threshold", 0.5)))

    def _value(self, i: int, raw: object) -> float:
        text = str(raw).strip() if raw is not None else ""
        if text in MISSING:
            return self.means[i]  # mean imputation: contributes 0 after standardising
        cats = self.categories.get(self.features[i])
        if cats and text in cats:
            return float(cats[text])
        return float(text)

    def probability(self, row: Mapping[str, object]) -> float:
        z = self.intercept
        for i, name in enumerate(self.features):
            z += self.coef[i] * (self._value(i, row.get(name)) - self.means[i]) / self.scales[i]
        return 1.0 / (1.0 + math.exp(-z))

    def predict(self, row: Mapping[str, object]) -> tuple[int, float]:
        p = self.probability(row)
        return (1 if p >= self.threshold else 0), p


def format_prediction(file_name: str, row_index: int, prediction: int, probability: float) -> str:
    """One append_row element: '<file_name> <row_index> <prediction> <probability>'."""
    return f"{file_name} {row_index} {prediction} {probability:.6f}"


def score_rows(model: HeartModel, file_name: str, rows: Sequence[Mapping[str, object]]) -> list[str]:
    return [format_prediction(file_name, i, *model.predict(r)) for i, r in enumerate(rows)]
