"""Addresses the app must never call (pure): link-local, cloud metadata and platform addresses, whatever the
spelling of the host.

Every URL from configuration (webhooks, scoring URIs, the v1 ``api_url``, datastore and sink accounts,
job-input URLs) is checked here at load time when its host is an address, and every outbound call of the
app's HTTP client checks each address its host resolves to before connecting (:mod:`shared.outbound`).

Refused: ``0.0.0.0/8``, ``169.254.0.0/16`` (instance metadata, link-local), ``168.63.129.16`` (Azure's
platform address: wire server, DNS, health probes), ``100.100.100.200`` (another cloud's metadata),
``192.0.0.0/24``, multicast, broadcast and reserved ranges; ``::``, ``fe80::/10``, ``fec0::/10``,
``fd00:ec2::254`` and multicast; and any of them inside an IPv6 form (IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``). An IPv4 address spelled as an
integer (``2852039166``), in octal (``0251.0376.0251.0376``), in hex (``0xa9fe.0xa9fe``) or with fewer
than four parts is refused however it resolves: only dotted decimal is accepted.

Loopback (``127.0.0.0/8``, ``::1``) stays what it is today: allowed when the URL names it literally
(``127.0.0.1``, ``localhost``, ``[::1]``: Azurite, the emulator, local development); a name that resolves
to loopback is refused. Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) are allowed: private
endpoints of Azure ML and storage resolve there.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Optional, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

LOOPBACK_NAMES = frozenset({"localhost"})
_FORBIDDEN_V4 = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "169.254.0.0/16", "168.63.129.16/32", "100.100.100.200/32", "192.0.0.0/24",
    "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32"))
_FORBIDDEN_V6 = tuple(ipaddress.ip_network(n) for n in (
    "::/128", "fe80::/10", "fec0::/10", "fd00:ec2::254/128", "ff00::/8"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Something that inet_aton would read as an IPv4 address: 1-4 dot-separated decimal, octal or hex numbers.
_NUMERIC_HOST = re.compile(r"(?i)^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$")


class ForbiddenAddress(ValueError):
    """A URL's host is, or resolves to, an address the app never calls."""


def normalize_host(host: str) -> str:
    """Lower case, NFKC (full-width digits become digits), no brackets, no trailing dot, no zone id."""
    text = unicodedata.normalize("NFKC", host).strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def _embedded_v4(address: ipaddress.IPv6Address) -> Optional[ipaddress.IPv4Address]:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed)
        return ipaddress.IPv4Address(int(address))
    return None


def address_problem(address: IPAddress, *, loopback_allowed: bool) -> Optional[str]:
    """Why the app must not connect to ``address``, or ``None`` when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            inner = address_problem(embedded, loopback_allowed=loopback_allowed)
            return f"{inner} (written as the IPv6 address {address})" if inner else None
        if address.is_loopback:
            return None if loopback_allowed else "is a loopback address reached through a name"
        if any(address in network for network in _FORBIDDEN_V6):
            return f"{address} is a link-local, metadata or reserved address"
        return None
    if address.is_loopback:
        return None if loopback_allowed else "is a loopback address reached through a name"
    if address == ipaddress.IPv4Address("168.63.129.16"):
        return "168.63.129.16 is Azure's platform address (wire server, DNS, health probes)"
    if address in _FORBIDDEN_V4[1]:
        return f"{address} is link-local (169.254.169.254 is the instance metadata service)"
    if any(address in network for network in _FORBIDDEN_V4):
        return f"{address} is an unspecified, metadata, multicast or reserved address"
    return None


def literal_address(host: str) -> Optional[IPAddress]:
    """The address a host names literally (dotted-decimal IPv4 or IPv6), else ``None`` (a name)."""
    try:
        return ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return None


def is_literal_loopback(host: str) -> bool:
    text = normalize_host(host)
    if text in LOOPBACK_NAMES:
        return True
    address = literal_address(text)
    return address is not None and address.is_loopback


def host_problem(host: str) -> Optional[str]:
    """Why a URL with this host must not be configured (literal addresses only; names are checked when
    resolved, at call time), or ``None``."""
    text = normalize_host(host)
    if not text:
        return "has no host"
    address = literal_address(text)
    if address is None:
        if _NUMERIC_HOST.match(text):
            return (f"host {host!r} is an IPv4 address in integer, octal or hex form or with fewer than four"
                    " parts; write it in dotted decimal (a.b.c.d)")
        if any(ch in text for ch in "%\\"):
            return f"host {host!r} is not a host name"
        return None
    return address_problem(address, loopback_allowed=True)
