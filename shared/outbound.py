"""The app's one outbound HTTP transport: every host is resolved and each of its addresses checked
(:mod:`shared.addresses`) before a connection is made, so a name that resolves to the metadata service or a
platform address is never called, whatever the routes document said.

``GuardedTransport`` wraps any httpx transport (by default a plain ``httpx.HTTPTransport``); the webhook
sender and the batch-endpoint client (scoring URIs, management plane, v1 ``api_url``) build theirs with
:func:`client_transport`. A refused call raises :class:`shared.addresses.ForbiddenAddress` (a ``ValueError``:
never retried as a network error). Redirects are not followed by either client, so the checked host is the
only one contacted.

The connection goes to the address that was checked, not to a second DNS answer (a name that rebinds between
the check and the connect is not followed): the request is sent to that address with the original ``Host``
header, and TLS names (SNI) and verifies the original host (httpcore's ``sni_hostname``).
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


def check_host(host: str, port: int, resolve: Resolver = system_resolver) -> list[str]:
    """Raise :class:`ForbiddenAddress` when ``host`` is, or resolves to, an address the app never calls;
    else the addresses it resolves to, in the resolver's order (none for a literal address or ``localhost``:
    nothing to pin)."""
    problem = host_problem(host)
    if problem:
        raise ForbiddenAddress(f"refused to call {host!r}: {problem}")
    if literal_address(host) is not None:
        return []
    loopback_allowed = is_literal_loopback(host)  # 'localhost' only; other names must not reach loopback
    checked = []
    for text in resolve(host, port):
        address = ipaddress.ip_address(str(text).split("%", 1)[0])
        problem = address_problem(address, loopback_allowed=loopback_allowed)
        if problem:
            raise ForbiddenAddress(f"refused to call {host!r}: it resolves to {address}, which {problem}"
                                   if problem.startswith("is ") else
                                   f"refused to call {host!r}: it resolves to {problem}")
        checked.append(str(address))
    if not checked:
        raise OSError(f"{host!r} resolves to no address")
    return [] if loopback_allowed else list(dict.fromkeys(checked))


class GuardedTransport(httpx.BaseTransport):
    """Checks the request's host (and every address it resolves to) before handing the request on."""

    def __init__(self, inner: Optional[httpx.BaseTransport] = None, *, resolve: Resolver = system_resolver):
        self._given = inner
        self._resolve = resolve
        # By default one connection pool per host name: pools are keyed by the (pinned) address, and a
        # connection whose TLS was verified for one name must never carry a request for another on that address.
        self._per_host: dict[str, httpx.BaseTransport] = {}

    def _inner(self, host: str) -> httpx.BaseTransport:
        if self._given is not None:
            return self._given
        if host not in self._per_host:
            self._per_host[host] = httpx.HTTPTransport()
        return self._per_host[host]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            addresses = check_host(url.host, url.port or (443 if url.scheme == "https" else 80), self._resolve)
        except OSError as exc:  # the name does not resolve: the same answer the connection would give
            raise httpx.ConnectError(f"cannot resolve {url.host!r}: {type(exc).__name__}", request=request) from None
        inner = self._inner(url.host)
        if not addresses:
            return inner.handle_request(request)
        # connect to a checked address, each in turn while none answers (as a plain connect would); the Host
        # header (set when the request was built) and TLS (SNI, certificate check) keep the name
        request.extensions = {**request.extensions, "sni_hostname": url.host}
        try:
            for n, address in enumerate(addresses):
                request.url = url.copy_with(host=address)
                try:
                    return inner.handle_request(request)
                except httpx.ConnectError:
                    if n == len(addresses) - 1:
                        raise
            raise AssertionError("unreachable")
        finally:
            request.url = url  # logs and errors name the host, as written

    def close(self) -> None:
        for transport in [self._given, *self._per_host.values()]:
            if transport is not None:
                transport.close()


def client_transport(transport: Optional[httpx.BaseTransport] = None, **options: Any) -> httpx.BaseTransport:
    """The transport of an outbound client: an injected one (tests' fault wrappers at the HTTP boundary) as
    given, else the guarded default."""
    return transport if transport is not None else GuardedTransport(**options)
