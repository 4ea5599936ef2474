"""Timestamps as text: the one format the app writes, and the reader of every format it has written (pure).

Written: RFC 3339 in UTC with a ``Z`` (``2026-12-05T02:43:31Z``; ``...31.123Z`` where milliseconds matter, as
for event times and claim records). A naive ``datetime`` is taken to be UTC (the Durable and Functions hosts
hand out naive UTC times in places).

Read: that format, and what earlier versions wrote into records, histories and statuses that outlive an
upgrade: ``+00:00`` and other offsets, a space instead of ``T`` (``2026-12-05 02:43:31+00:00``), no zone at all
(UTC), a lower-case ``z``, and up to 7 fractional digits (Event Grid's; ``fromisoformat`` in 3.11 reads 6).
Only ASCII digits: ``int()`` would read other scripts' digits, this reader does not.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional

TimeSpec = Literal["seconds", "milliseconds"]

_RFC3339 = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
                      r"(?:[Tt ](?P<clock>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?:\.(?P<fraction>[0-9]{1,9}))?"
                      r"\s?(?P<zone>[Zz]|[+-][0-9]{2}:?[0-9]{2})?)?")


def format_time(moment: datetime, timespec: TimeSpec = "seconds") -> str:
    """``moment`` as RFC 3339 UTC with a ``Z``: ``2026-12-05T02:43:31Z`` (or ``...31.123Z``)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec=timespec) + "Z"


def now_text(timespec: TimeSpec = "seconds") -> str:
    """The wall clock in the one format (for records written by activities; orchestrations use their context)."""
    return format_time(datetime.now(timezone.utc), timespec)


def parse_time(text: str, *, naive: bool = False) -> datetime:
    """A timestamp as an aware UTC ``datetime`` (``naive``: the same instant without ``tzinfo``, to compare with
    a naive clock). Reads every format described in the module; ``ValueError`` for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"a time must be a string, got {type(text).__name__}")
    match = _RFC3339.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text[:40]!r}")
    iso = match["date"] + ("T" + match["clock"] if match["clock"] else "")
    if match["fraction"]:
        iso += "." + match["fraction"][:6].ljust(6, "0")
    moment = datetime.fromisoformat(iso)
    zone = match["zone"] or "Z"
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= timedelta(hours=24):
            raise ValueError(f"offset out of range: {zone!r}")
        moment = moment - sign * offset
    return moment if naive else moment.replace(tzinfo=timezone.utc)


def try_parse_time(value: object, *, naive: bool = False) -> Optional[datetime]:
    """:func:`parse_time`, or ``None`` when ``value`` is absent, not a string or not a time."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return parse_time(value, naive=naive)
    except (ValueError, OverflowError):
        return None


def normalized(value: object, timespec: TimeSpec = "seconds") -> Optional[str]:
    """A time from a record or an event (text or ``datetime``) rewritten in the one format, or ``None``."""
    if isinstance(value, datetime):
        try:
            return format_time(value, timespec)
        except (OverflowError, ValueError):
            return None
    moment = try_parse_time(value)
    return format_time(moment, timespec) if moment is not None else None
