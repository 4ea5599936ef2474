"""Prints infra/'s role table (tests/infra/roles.py) at the end of every run that collected tests/infra."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.infra import roles

    terminalreporter.section("role assignments (infra/)")
    try:
        lines = roles.table()
    except Exception as exc:  # the tests report the cause; the summary says why it has no table
        lines = [f"no table: {type(exc).__name__}: {exc}"]
    for line in lines:
        terminalreporter.write_line(line)
