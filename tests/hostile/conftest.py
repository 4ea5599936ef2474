"""The hostile-input catalogue: shared bookkeeping and the summary line.

Each test module in this package feeds bad or unusual inputs to one surface (HTTP API, routes document,
Event Grid / queue / Azure ML event triggers, path building) and records each case with :func:`record`:

    def test_http_start(catalogue, ...):
        for case in CASES:
            with catalogue.case("http.start", case.name, secrets=case.secrets) as c:
                answer = call(...)
                c.check(answer.status_code == 400, f"status {answer.status_code}")
                c.no_secret_in(answer.get_body().decode())

A case that raises anything other than an AssertionError counts as a *crash*; a failed ``no_secret_in``
counts as a *security failure*; every case counts as *tried*. At the end of the session the catalogue
prints one line:

    hostile catalogue: cases tried: N; crashes: 0; security failures: 0

and each recorded failure makes its test fail (the case name says which input).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import pytest


@dataclass
class _Totals:
    tried: int = 0
    crashes: int = 0
    security: int = 0
    names: set = field(default_factory=set)


TOTALS = _Totals()


class SecretLeak(AssertionError):
    pass


class _Case:
    def __init__(self, surface: str, name: str, secrets: Iterable[str]):
        self.surface, self.name = surface, name
        self.secrets = [s for s in secrets if s]

    def check(self, condition: bool, message: str = "") -> None:
        if not condition:
            raise AssertionError(f"[{self.surface}] {self.name}: {message}")

    def no_secret_in(self, *texts: Optional[str]) -> None:
        for text in texts:
            if text is None:
                continue
            for secret in self.secrets:
                if secret in str(text):
                    raise SecretLeak(f"[{self.surface}] {self.name}: secret {secret[:4]}… appears in {str(text)[:200]!r}")


class Catalogue:
    def __init__(self, caplog: Optional[pytest.LogCaptureFixture] = None):
        self.caplog = caplog

    @contextlib.contextmanager
    def case(self, surface: str, name: str, *, secrets: Iterable[str] = ()) -> Iterator[_Case]:
        key = (surface, name)
        if key in TOTALS.names:
            raise AssertionError(f"catalogue case {surface}/{name} is listed twice; cases must be distinct")
        TOTALS.names.add(key)
        TOTALS.tried += 1
        c = _Case(surface, name, secrets)
        try:
            yield c
            if c.secrets and self.caplog is not None:  # no secret in any log record of the case
                c.no_secret_in(*(r.getMessage() for r in self.caplog.records))
        except SecretLeak:
            TOTALS.security += 1
            raise
        except AssertionError:
            raise
        except Exception as exc:  # anything else is a crash of the code under test
            TOTALS.crashes += 1
            raise AssertionError(f"[{surface}] {name}: crashed with {type(exc).__name__}: {exc}") from exc


@pytest.fixture
def catalogue(caplog: pytest.LogCaptureFixture) -> Catalogue:
    caplog.set_level(logging.DEBUG)
    return Catalogue(caplog)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook signature
    if TOTALS.tried:
        terminalreporter.write_line(f"hostile catalogue: cases tried: {TOTALS.tried}; crashes: {TOTALS.crashes};"
                                    f" security failures: {TOTALS.security}")
