"""NCRONTAB schedules as Azure Functions timer triggers write them: six fields, seconds first.

``{second} {minute} {hour} {day} {month} {day-of-week}``, each ``*``, a number, ``a-b``, ``a,b,c`` or a
step (``*/5``, ``10-40/10``). Day-of-week 0 is Sunday (7 is accepted too). Enough for the app's timers;
names (``MON``) and TimeSpan schedules (``00:05:00``) are also accepted.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
_NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
          "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9,
          "OCT": 10, "NOV": 11, "DEC": 12}
_TIMESPAN = re.compile(r"^(\d+):(\d{2}):(\d{2})$")


class Schedule:
    def __init__(self, expression: str):
        self.expression = expression.strip()
        span = _TIMESPAN.match(self.expression)
        self.interval = timedelta(hours=int(span[1]), minutes=int(span[2]), seconds=int(span[3])) if span else None
        if self.interval is not None:
            if self.interval <= timedelta(0):
                raise ValueError(f"timer schedule {expression!r}: the interval must be positive")
            return
        fields = self.expression.split()
        if len(fields) != 6:
            raise ValueError(f"timer schedule {expression!r}: NCRONTAB needs 6 fields (seconds first)")
        self.sets = [_field(text, lo, hi, expression) for text, (lo, hi) in zip(fields, _RANGES)]

    def next_after(self, moment: datetime) -> datetime:
        """The first firing time strictly after ``moment``."""
        if self.interval is not None:
            return moment + self.interval
        t = moment.replace(microsecond=0) + timedelta(seconds=1)
        seconds, minutes, hours, days, months, weekdays = self.sets
        for _ in range(366 * 24 * 60 + 1):  # at most a year of minutes
            if t.month in months and t.day in days and (t.weekday() + 1) % 7 in weekdays \
                    and t.hour in hours and t.minute in minutes:
                later = [s for s in sorted(seconds) if s >= t.second]
                if later:
                    return t.replace(second=later[0])
            t = (t + timedelta(minutes=1)).replace(second=0)
        raise ValueError(f"timer schedule {self.expression!r} never fires")


def _field(text: str, lo: int, hi: int, expression: str) -> set[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _number(a, expression), _number(b, expression)
        else:
            start = _number(base, expression)
            end = hi if step_text else start
        if step < 1 or start < lo or end > hi + (1 if hi == 6 else 0) or start > end:
            raise ValueError(f"timer schedule {expression!r}: field {text!r} is out of range {lo}-{hi}")
        values.update(v % 7 if hi == 6 else v for v in range(start, end + 1, step))
    return values


def _number(text: str, expression: str) -> int:
    if text in _NAMES:
        return _NAMES[text]
    if not text.isdigit():
        raise ValueError(f"timer schedule {expression!r}: {text!r} is not a number")
    return int(text)
