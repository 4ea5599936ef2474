"""Batch-scoring runs for Azure ML batch endpoints, driven by storage events and HTTP."""

__version__ = "0.1.0"

from .log_redaction import install as _install_log_redaction  # noqa: E402 - after the version on purpose

_install_log_redaction()
