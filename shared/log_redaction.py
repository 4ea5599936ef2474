"""Defence in depth: every log record of the app's own loggers is redacted before any handler sees it.

Error texts are redacted where they are built (:func:`shared.redact.redact`); this catches the ones that
slip through (an exception message logged with ``%s``, a traceback). A :class:`logging.Filter` attached to a
logger only sees records created on that very logger, not its children's, and handlers are added by the
Functions worker after we load; so the filter runs from the log-record factory, which every record of every
logger passes through. Only records of :data:`APP_LOGGERS` are touched, and only records that are emitted
(the factory runs after the level check), so the cost stays off quiet paths.

Installed once, lazily: importing the ``shared`` package installs it (``function_app`` imports ``shared`` only
inside function bodies, so cold start does not pay for it).
"""

from __future__ import annotations

import logging
import threading

from .redact import has_secret, redact

# The HTTP clients log each request line with its whole URL: httpx at INFO (``HTTP Request: POST <url>``, a
# webhook's ``?apikey=`` included), httpcore, urllib3 and requests (under the storage SDK) at DEBUG. The Azure
# SDK's logging policy masks most query values itself, but not a URL inside an error text. ``root`` is where
# ``logging.info(...)`` without a logger lands. :func:`shared.redact.redact` masks every URL's query values,
# user info, fragment and known webhook path secrets, whatever the parameter's name.
APP_LOGGERS = ("shared", "function_app", "emulator", "tools", "urllib3", "httpx", "httpcore", "requests", "azure",
               "root")

_lock = threading.Lock()
_installed = False


def is_app_logger(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in APP_LOGGERS)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its formatted traceback) with every credential masked; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: leave it for the handler to report
            return True
        if has_secret(message):
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if has_secret(text):
                record.exc_text = redact(text)
        if record.stack_info and has_secret(record.stack_info):
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Route every record of the app's loggers through :class:`RedactingFilter` (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if is_app_logger(record.name):
                _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
