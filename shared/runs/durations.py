"""How long a route's jobs take (pure): samples in, an expected end window out.

A sample is one finished (``Completed``) job of the route: seconds from submit to completion, and the
size of its input when known (``files``, ``bytes``). The estimate for a new job is

* ``duration = a + b * size`` fitted by least squares when the samples carry a size and the sizes vary
  (fixed start-up cost plus a per-byte or per-file rate; both clamped to be non-negative), else
* the median of the durations.

The window ``[low, high]`` is where the job is expected to end: the spread of the samples around the
model (the smallest and largest ratio actual / predicted, widened by ``1 + 1/n``), and at least two standard
deviations of those ratios each side, because the range of a few samples understates the range of the
route's jobs.
"""

from __future__ import annotations

from statistics import median, pstdev
from typing import Any, Iterable, Optional

MIN_HALF_WIDTH = 0.03  # a window never narrower than ±3 % of the expected duration


def _size(sample: dict, key: str) -> Optional[float]:
    value = sample.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


def _fit(points: list[tuple[float, float]]) -> Optional[tuple[float, float]]:
    """Least-squares ``y = a + b x`` with ``a, b >= 0``; ``None`` when x hardly varies."""
    xs = [x for x, _ in points]
    if min(xs) <= 0 or max(xs) / min(xs) < 1.2:
        return None
    n = len(points)
    mx = sum(xs) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    b = sxy / sxx if sxx > 0 else 0.0
    if b <= 0:
        return None
    a = my - b * mx
    if a < 0:  # no negative start-up cost: proportional model through the origin instead
        a = 0.0
        b = sum(x * y for x, y in points) / sum(x * x for x in xs)
    return a, b


def estimate(samples: Iterable[dict], *, files: Optional[float] = None, total_bytes: Optional[float] = None,
             min_samples: int = 3) -> Optional[dict[str, Any]]:
    """The expected duration and end window of a new job, or ``None`` with fewer than ``min_samples``."""
    usable = [s for s in samples if isinstance(s.get("seconds"), (int, float)) and s["seconds"] > 0]
    if len(usable) < max(1, min_samples):
        return None
    durations = [float(s["seconds"]) for s in usable]

    basis, model = "median", None
    for key, current in (("bytes", total_bytes), ("files", files)):
        if current is None or current <= 0:
            continue
        points = [(_size(s, key), float(s["seconds"])) for s in usable]
        points = [(x, y) for x, y in points if x is not None]
        if len(points) >= max(2, min_samples):
            fitted = _fit(points)
            if fitted is not None:
                basis, model, size_key, size_now = key, fitted, key, float(current)
                break

    if model is None:
        center = median(durations)
        expected = center
        ratios = [d / center for d in durations]
    else:
        a, b = model
        expected = a + b * size_now
        ratios = []
        for s in usable:
            x = _size(s, size_key)
            if x is not None and a + b * x > 0:
                ratios.append(float(s["seconds"]) / (a + b * x))
    n = len(ratios)
    widen = 1.0 + 1.0 / n
    spread = 2.0 * pstdev(ratios) if n > 1 else 0.0   # the range of a few samples understates the route's
    below = max(MIN_HALF_WIDTH, (1.0 - min(ratios)) * widen, spread)
    above = max(MIN_HALF_WIDTH, (max(ratios) - 1.0) * widen, spread)
    low = max(0.0, expected * (1.0 - below))
    high = expected * (1.0 + above)
    return {"expected": round(expected, 3), "low": round(low, 3), "high": round(high, 3), "samples": n,
            "basis": basis}


def add_sample(samples: list[dict], sample: dict, keep: int) -> list[dict]:
    """Append ``sample`` and keep the newest ``keep`` (one per job name: a repeated record replaces)."""
    job = sample.get("job_name")
    kept = [s for s in samples if not (job and s.get("job_name") == job)]
    kept.append(sample)
    return kept[-max(1, keep):]


PRIOR_WIDEN = 1.5  # another route's jobs say less about this route's: the window is this much wider


def deployment_prior(samples: Iterable[dict], *, route: str, files: Optional[float] = None,
                     total_bytes: Optional[float] = None, min_samples: int = 3) -> Optional[dict[str, Any]]:
    """The prior before a route has history of its own: what the *other* routes of the same deployment took
    (same model, scoring script and compute; other inputs), scaled to this job's input size, with a window
    ``PRIOR_WIDEN`` times wider. ``None`` when they have fewer than ``min_samples`` finished jobs."""
    others = [s for s in samples if s.get("route") != route]
    found = estimate(others, files=files, total_bytes=total_bytes, min_samples=min_samples)
    if found is None:
        return None
    expected = found["expected"]
    below, above = (expected - found["low"]) * PRIOR_WIDEN, (found["high"] - expected) * PRIOR_WIDEN
    return {**found, "low": round(max(0.0, expected - below), 3), "high": round(expected + above, 3),
            "basis": f"deployment:{found['basis']}"}
