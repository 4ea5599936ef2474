"""OpenTelemetry traces and metrics of the app, through ``opentelemetry-api`` (the Durable SDK imports it
anyway, so this module adds almost nothing to a cold start).

Spans: ``batchruns.submit``, ``batchruns.status``, ``batchruns.cancel``, ``batchruns.copy`` and
``batchruns.notify``, each with ``run_id``, ``route`` and ``job_name`` when known. An activity body gets its
span with one line, which also reads the attributes from its payload and records what its result says
(an ``error``, the job status polled, the bytes copied)::

    @telemetry.traced("submit")
    def submit_job(payload: dict, ...) -> dict: ...

or around any block: ``with telemetry.span("copy", run_id=..., route=...): ...``.

Counters: ``batchruns.landing.outcomes`` (``outcome``, ``route``), ``batchruns.poll.calls`` (``route``,
``job_status``) and ``batchruns.delivered.bytes`` (``route``, ``sink``).

Export: when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, the first span or count switches on
``azure-monitor-opentelemetry`` (imported then, never when ``function_app`` is imported); under Entra auth the
exporter reads ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` itself. Without it, the API's no-op providers
make every call here nearly free. When the Python worker configures Azure Monitor itself
(``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true``), this module doesn't configure it a second time.
Error texts on spans go through :func:`shared.redact.redact`, and :mod:`shared.span_redaction` masks URL query
values, user info and webhook path secrets in every span's attributes (the httpx instrumentation's ``url.full``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar

from opentelemetry import metrics, trace

SCOPE = "batchruns"
SPAN_NAMES = ("submit", "status", "cancel", "copy", "notify")
CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
WORKER_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
# The distro's web-framework and database instrumentations have nothing to watch in this app.
_UNUSED_INSTRUMENTATIONS = ("django", "fastapi", "flask", "psycopg2")

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured: Optional[bool] = None


def configure(environ: Mapping[str, str] = os.environ) -> bool:
    """Switch on the Azure Monitor exporter once, if a connection string is set. True when this call or an
    earlier one did (idempotent, thread-safe; a failure is logged once and telemetry stays off)."""
    global _configured
    if _configured is not None:
        return _configured
    with _lock:
        if _configured is not None:
            return _configured
        _configured = False
        if environ.get(WORKER_SETTING, "").lower() == "true":
            _redact_worker_spans()
            return False
        if not environ.get(CONNECTION_SETTING):
            return False
        try:
            os.environ.setdefault("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "azure_functions")
            from azure.monitor.opentelemetry import configure_azure_monitor  # heavy: only here

            from .span_redaction import RedactingSpanProcessor

            configure_azure_monitor(
                connection_string=environ[CONNECTION_SETTING],
                # first among the processors: URLs (a webhook's ?apikey=) are masked before export
                span_processors=[RedactingSpanProcessor()],
                # logs reach Application Insights through the Functions host already; export only ours
                logger_name=f"{SCOPE}.telemetry",
                instrumentation_options={name: {"enabled": False} for name in _UNUSED_INSTRUMENTATIONS},
            )
            _configured = True
        except Exception as exc:  # telemetry must never break a run
            from .redact import redact

            log.warning("Azure Monitor telemetry is off: %s", redact(f"{type(exc).__name__}: {exc}"))
        return _configured


def _redact_worker_spans() -> None:
    """The worker configured Azure Monitor: mask credentials in its spans too (best effort, never fatal)."""
    try:
        from .span_redaction import install

        install(trace.get_tracer_provider())
    except Exception as exc:  # telemetry must never break a run
        log.warning("span redaction is off: %s", type(exc).__name__)


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    from .redact import redact

    return {key: value if isinstance(value, (bool, int, float)) else redact(str(value))
            for key, value in values.items() if value is not None}


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span ``batchruns.<name>`` around the block; an exception marks it failed (redacted) and propagates."""
    configure()
    tracer = trace.get_tracer(SCOPE)
    with tracer.start_as_current_span(f"{SCOPE}.{name}", attributes=_attributes(attributes),
                                      record_exception=False, set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            from .redact import redact

            text = redact(f"{type(exc).__name__}: {exc}")
            current.set_status(trace.Status(trace.StatusCode.ERROR, text))
            current.add_event("exception", {"exception.type": type(exc).__name__, "exception.message": text})
            raise


def _counter(name: str, unit: str, description: str) -> Any:
    return metrics.get_meter(SCOPE).create_counter(name, unit=unit, description=description)


_instruments: dict[str, Any] = {}


def _instrument(name: str, unit: str, description: str) -> Any:
    if name not in _instruments:
        with _lock:
            _instruments.setdefault(name, _counter(name, unit, description))
    return _instruments[name]


def count_landing(outcome: str, reason: Optional[str] = None, route: Optional[str] = None) -> None:
    """One landing decision (``started``, ``duplicate``, ``skipped``, ``rejected``, ...) and its reason."""
    configure()
    _instrument(f"{SCOPE}.landing.outcomes", "{event}", "storage events by landing outcome").add(
        1, _attributes({"outcome": outcome, "reason": reason or None, "route": route}))


def count_poll(route: Optional[str], job_status: Optional[str]) -> None:
    """One job-status call and the status it read."""
    configure()
    _instrument(f"{SCOPE}.poll.calls", "{call}", "batch job status calls").add(
        1, _attributes({"route": route, "job_status": job_status}))


def count_job_event(reason: str, named: str) -> None:
    """One Azure ML run event and what it named: ``job`` (the submitted job) or ``child_run`` (its
    ``batchscoring`` child, mapped to the job by one Run History look-up)."""
    configure()
    _instrument(f"{SCOPE}.aml_events.outcomes", "{event}", "Azure ML run events by outcome").add(
        1, _attributes({"reason": reason, "named": named}))


def add_delivered_bytes(size: int, route: Optional[str] = None, sink: Optional[str] = None) -> None:
    """Bytes copied to a sink (skipped identical copies count nothing)."""
    if size:
        configure()
        _instrument(f"{SCOPE}.delivered.bytes", "By", "output bytes delivered to sinks").add(
            int(size), _attributes({"route": route, "sink": sink}))


ATTRIBUTE_KEYS = ("run_id", "route", "job_name", "sink", "file")


def payload_attributes(payload: Any) -> dict[str, Any]:
    """``run_id``, ``route``, ``job_name`` (and ``sink``, ``file``) from an activity payload, looking in the
    payload and in its ``run`` / ``summary`` part, whichever shape the activity takes."""
    found: dict[str, Any] = {}
    if not isinstance(payload, Mapping):
        return found
    for part in (payload, payload.get("run"), payload.get("summary")):
        if isinstance(part, Mapping):
            for key in ATTRIBUTE_KEYS:
                if found.get(key) is None and isinstance(part.get(key), (str, int)):
                    found[key] = part[key]
    return found


def _observe(name: str, current: Any, attributes: dict[str, Any], result: Any) -> None:
    if not isinstance(result, Mapping):
        return
    if isinstance(result.get("job_name"), str):
        current.set_attribute("job_name", result["job_name"])
    if result.get("error"):
        from .redact import redact

        current.set_status(trace.Status(trace.StatusCode.ERROR, redact(str(result["error"]))[:1000]))
    if name == "status":
        current.set_attribute("job_status", str(result.get("status")))
        count_poll(attributes.get("route"), result.get("status") or "unreadable")
    elif name == "copy":
        current.set_attribute("copy_state", str(result.get("state")))
        if result.get("state") == "copied" and isinstance(result.get("bytes"), int):
            add_delivered_bytes(result["bytes"], attributes.get("route"), attributes.get("sink"))
    elif name == "notify":
        current.set_attribute("notify_sent", ",".join(result.get("sent") or []))
        if result.get("failed"):
            current.set_status(trace.Status(trace.StatusCode.ERROR, "notification failed: "
                                            + ", ".join(sorted(result["failed"]))))


Activity = TypeVar("Activity", bound=Callable[..., Any])


def traced(name: str) -> Callable[[Activity], Activity]:
    """Decorates an activity body ``(payload, ...) -> dict`` with the span ``batchruns.<name>``."""
    def decorate(body: Activity) -> Activity:
        @functools.wraps(body)
        def run(payload: Any, *args: Any, **kwargs: Any) -> Any:
            attributes = payload_attributes(payload)
            with span(name, **attributes) as current:
                result = body(payload, *args, **kwargs)
                _observe(name, current, attributes, result)
                return result
        return run  # type: ignore[return-value]
    return decorate


def _reset_for_tests() -> None:
    global _configured
    _configured = None
    _instruments.clear()
