"""Credentials for outbound calls: managed identity through azure-identity, and a stand-in for loopback.

The loopback credential exists so that the local emulator (which only checks that a bearer token is
present) works on a laptop with no Azure login. It is chosen only when the target host is 127.0.0.1 or
localhost, so a real Azure endpoint never receives a fake token and the emulator never receives a real one.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Mapping, NamedTuple

from .config.checks import is_loopback_url


class _AccessToken(NamedTuple):
    token: str
    expires_on: int


class LoopbackCredential:
    """Hands out a fixed, meaningless token for services on this machine."""

    TOKEN = "local-emulator-token"

    def get_token(self, *scopes: str, **kwargs: Any) -> _AccessToken:
        return _AccessToken(self.TOKEN, int(time.time()) + 3600)


_lock = threading.Lock()
_default: Any = None


def default_credential(environ: Mapping[str, str] = os.environ) -> Any:
    """One ``DefaultAzureCredential`` per process: it caches tokens and refreshes them before expiry."""
    global _default
    with _lock:
        if _default is None:
            from azure.identity import DefaultAzureCredential  # deferred: keeps cold start fast

            client_id = environ.get("AZURE_CLIENT_ID")
            _default = DefaultAzureCredential(managed_identity_client_id=client_id) if client_id \
                else DefaultAzureCredential()
        return _default


def credential_for(url: str) -> Any:
    return LoopbackCredential() if is_loopback_url(url) else default_credential()
