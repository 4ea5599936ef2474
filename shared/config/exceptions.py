"""Errors raised while reading the app's configuration."""

from __future__ import annotations

from ..redact import redact


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` lists every reason, each naming where it is.

    Problems are redacted here, once, whatever built them: a SAS, key, password or code that reached a message
    is masked before the error can be logged, stored or answered.
    """

    def __init__(self, problems: list[str]):
        self.problems = [redact(problem) for problem in problems]
        summary = "; ".join(self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"invalid configuration: {summary}{more}")


class UnknownRouteError(KeyError):
    """A route name that the configuration does not define."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown route {self.name!r}; configured routes: {', '.join(self.known) or '(none)'}"
