"""The one time format: written as RFC 3339 UTC with 'Z'; every form an earlier version wrote is still read."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.timefmt import format_time, normalized, parse_time, try_parse_time

MOMENT = datetime(2026, 12, 5, 2, 43, 31, tzinfo=timezone.utc)


def test_one_format_is_written():
    assert format_time(MOMENT) == "2026-12-05T02:43:31Z"
    assert format_time(MOMENT.replace(tzinfo=None)) == "2026-12-05T02:43:31Z"  # naive is UTC
    assert format_time(MOMENT.astimezone(timezone(timedelta(hours=2)))) == "2026-12-05T02:43:31Z"
    assert format_time(MOMENT + timedelta(microseconds=123456), "milliseconds") == "2026-12-05T02:43:31.123Z"


@pytest.mark.parametrize("text", [
    "2026-12-05T02:43:31Z", "2026-12-05T02:43:31z", "2026-12-05 02:43:31+00:00", "2026-12-05T02:43:31+00:00",
    "2026-12-05T04:43:31+02:00", "2026-12-04T21:43:31-05:00", "2026-12-05T02:43:31", "2026-12-05T02:43:31.000Z",
    "2026-12-05T02:43:31.0000000Z",  # Event Grid's seven digits
])
def test_every_earlier_form_is_read_as_the_same_instant(text):
    assert parse_time(text) == MOMENT
    assert parse_time(text).tzinfo is not None
    assert parse_time(text, naive=True) == MOMENT.replace(tzinfo=None)
    assert normalized(text) == "2026-12-05T02:43:31Z"


@pytest.mark.parametrize("value", [None, 5, "", "yesterday", "2026-13-05T00:00:00Z", "2026-12-0\uff15T00:00:00Z",
                                   "2026-12-05T02:43:31+25:00", "x" * 100])
def test_what_is_not_a_time_is_refused(value):
    assert try_parse_time(value) is None
    assert normalized(value) is None


def test_a_datetime_is_normalized_too():
    assert normalized(MOMENT.replace(tzinfo=None)) == "2026-12-05T02:43:31Z"


def test_the_public_run_resource_writes_one_format():
    """``GET /api/runs/{id}`` showed ``2026-12-05 02:43:31+00:00`` (the Durable client's datetimes) beside
    ``...Z`` times; every time in the view is now the one format."""
    from types import SimpleNamespace

    from shared.http_api.runs import describe

    status = SimpleNamespace(instance_id="r1", runtime_status=SimpleNamespace(value="Running", name="Running"),
                             custom_status={"phase": "monitoring", "started_at": "2026-12-05T02:43:31Z"},
                             output=None, input_=None, created_time=MOMENT,
                             last_updated_time=MOMENT.replace(tzinfo=None) + timedelta(seconds=5))
    view = describe(status)
    assert view["created_at"] == "2026-12-05T02:43:31Z"
    assert view["updated_at"] == "2026-12-05T02:43:36Z"
