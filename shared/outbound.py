"""The app's one outbound HTTP transport: every host is resolved and each of its addresses checked
(:mod:`shared.addresses`) before a connection is made, so a name that resolves to the metadata service or a
platform address is never called, whatever the routes document said.

``GuardedTransport`` wraps any httpx transport (by default a plain ``httpx.HTTPTransport``); the webhook
sender and the batch-endpoint client (scoring URIs, management plane, v1 ``api_url``) build theirs with
:func:`client_transport`. A refused call raises :class:`shared.addresses.ForbiddenAddress` (a ``ValueError``:
never retried as a network error). Redirects are not followed by either client, so the checked host is the
only one contacted.

The check and the connection resolve the name separately: a DNS answer that changes between the two
(rebinding within the record's lifetime) is not caught here; the address rules still hold for every answer
the check sees.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Callable, Iterable, Optional

import httpx

from .addresses import ForbiddenAddress, address_problem, host_problem, is_literal_loopback, literal_address

Resolver = Callable[[str, int], Iterable[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (what the connection will choose from)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def check_host(host: str, port: int, resolve: Resolver = system_resolver) -> None:
    """Raise :class:`ForbiddenAddress` when ``host`` is, or resolves to, an address the app never calls."""
    problem = host_problem(host)
    if problem:
        raise ForbiddenAddress(f"refused to call {host!r}: {problem}")
    if literal_address(host) is not None:
        return
    loopback_allowed = is_literal_loopback(host)  # 'localhost' only; other names must not reach loopback
    for text in resolve(host, port):
        address = ipaddress.ip_address(str(text).split("%", 1)[0])
        problem = address_problem(address, loopback_allowed=loopback_allowed)
        if problem:
            raise ForbiddenAddress(f"refused to call {host!r}: it resolves to {address}, which {problem}"
                                   if problem.startswith("is ") else
                                   f"refused to call {host!r}: it resolves to {problem}")


class GuardedTransport(httpx.BaseTransport):
    """Checks the request's host (and every address it resolves to) before handing the request on."""

    def __init__(self, inner: Optional[httpx.BaseTransport] = None, *, resolve: Resolver = system_resolver):
        self._inner = inner if inner is not None else httpx.HTTPTransport()
        self._resolve = resolve

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            check_host(host, request.url.port or (443 if request.url.scheme == "https" else 80), self._resolve)
        except OSError as exc:  # the name does not resolve: the same answer the connection would give
            raise httpx.ConnectError(f"cannot resolve {host!r}: {type(exc).__name__}", request=request) from None
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def client_transport(transport: Optional[httpx.BaseTransport] = None, **options: Any) -> httpx.BaseTransport:
    """The transport of an outbound client: an injected one (tests' fault wrappers at the HTTP boundary) as
    given, else the guarded default."""
    return transport if transport is not None else GuardedTransport(**options)
