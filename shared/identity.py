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
    """Hands out unsigned, meaningless tokens for services on this machine.

    Each is JWT-shaped with the audience of the scope asked for (``https://ml.azure.com`` or
    ``https://management.azure.com``), so the emulator can refuse a token sent to the wrong plane as the
    service does, and the app's choice of scope per call is tested.
    """

    def get_token(self, *scopes: str, **kwargs: Any) -> _AccessToken:
        expires_on = int(time.time()) + 3600
        audience = scopes[0].removesuffix(".default").rstrip("/") if scopes else ""
        return _AccessToken(unsigned_token(audience, expires_on), expires_on)


def unsigned_token(audience: str, expires_on: int) -> str:
    """``header.claims.`` (``alg: none``, empty signature): carries an audience, proves nothing."""
    import base64
    import json

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return (f"{part({'alg': 'none', 'typ': 'JWT'})}."
            f"{part({'aud': audience, 'iss': 'loopback', 'exp': expires_on})}.")


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
