"""The sample pipeline's step: flag large sales per file, and total them per region name."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def read_regions(folder: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                names[row["region"]] = row["name"]
    return names


def score(sales: Path, regions: Path, threshold: float, scores: Path, summary: Path) -> dict:
    names = read_regions(regions)
    totals: dict[str, float] = {}
    scores.mkdir(parents=True, exist_ok=True)
    for path in sorted(sales.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        with (scores / path.name).open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["region", "name", "amount", "large"])
            for row in rows:
                amount = float(row["amount"])
                name = names.get(row["region"], "unknown")
                totals[name] = totals.get(name, 0.0) + amount
                writer.writerow([row["region"], name, f"{amount:g}", str(amount > threshold).lower()])
    result = {"threshold": threshold, "totals": dict(sorted(totals.items()))}
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("sales", "regions", "scores", "summary"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--threshold", type=float, required=True)
    args = parser.parse_args()
    score(args.sales, args.regions, args.threshold, args.scores, args.summary)


if __name__ == "__main__":
    main()
