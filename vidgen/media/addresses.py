"""Which addresses the server may connect to on a user's behalf, however they are spelled.

Pure functions, no I/O except ``resolve_host``: ``parse_host`` turns any spelling of a host (names,
dotted quads, ``2130706433``, ``0x7f.1``, ``127.1``, bracketed IPv6) into an address or a name;
``check_address`` says why an address is not public, judging IPv6 forms that embed an IPv4 address
(mapped, NAT64, 6to4, Teredo) by that address. The tables are our own rather than
``ipaddress.is_global``, whose answers changed between Python 3.11 and 3.12.4.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum

__all__ = [
    "METADATA_ADDRESSES",
    "PRIVATE_KINDS",
    "AddressKind",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "check_address",
    "parse_host",
    "resolve_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""``(host, port) -> addresses``; the default is ``resolve_host``. Tests inject their own."""


class AddressKind(StrEnum):
    """Why an address is not public. Only ``PRIVATE_KINDS`` can be allowed by policy."""

    LOOPBACK = "loopback"
    PRIVATE = "private"
    SHARED = "shared (CGNAT)"
    LINK_LOCAL = "link-local"
    MULTICAST = "multicast"
    RESERVED = "reserved"
    UNSPECIFIED = "unspecified"
    DOCUMENTATION = "documentation"
    BENCHMARKING = "benchmarking"
    METADATA = "cloud metadata"


PRIVATE_KINDS = frozenset({AddressKind.LOOPBACK, AddressKind.PRIVATE, AddressKind.SHARED})

# Cloud instance-metadata endpoints hand out credentials; refused even when private addresses
# are allowed. Most sit in 169.254/16 (always refused anyway); the rest are listed one by one.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Hetzner, ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer (a public-range address)
    )
)


def _nets(*table: tuple[str, AddressKind]) -> tuple[tuple[IPNetwork, AddressKind], ...]:
    return tuple((ipaddress.ip_network(net), kind) for net, kind in table)


# Explicit tables instead of ipaddress's is_global/is_private: those changed between Python
# releases (3.11.x vs 3.12.4+), and the guard must not change with the interpreter.
_V4_TABLE = _nets(
    ("0.0.0.0/32", AddressKind.UNSPECIFIED),  # Linux connects 0.0.0.0 to the local host
    ("0.0.0.0/8", AddressKind.RESERVED),
    ("10.0.0.0/8", AddressKind.PRIVATE),
    ("100.64.0.0/10", AddressKind.SHARED),
    ("127.0.0.0/8", AddressKind.LOOPBACK),
    ("169.254.0.0/16", AddressKind.LINK_LOCAL),
    ("172.16.0.0/12", AddressKind.PRIVATE),
    ("192.0.0.0/24", AddressKind.RESERVED),
    ("192.0.2.0/24", AddressKind.DOCUMENTATION),
    ("192.88.99.0/24", AddressKind.RESERVED),  # old 6to4 relay anycast
    ("192.168.0.0/16", AddressKind.PRIVATE),
    ("198.18.0.0/15", AddressKind.BENCHMARKING),
    ("198.51.100.0/24", AddressKind.DOCUMENTATION),
    ("203.0.113.0/24", AddressKind.DOCUMENTATION),
    ("224.0.0.0/4", AddressKind.MULTICAST),
    ("240.0.0.0/4", AddressKind.RESERVED),  # includes 255.255.255.255
)
_V6_TABLE = _nets(
    ("::/128", AddressKind.UNSPECIFIED),
    ("::1/128", AddressKind.LOOPBACK),
    ("64:ff9b:1::/48", AddressKind.PRIVATE),  # local-use NAT64
    ("100::/64", AddressKind.RESERVED),  # discard-only
    ("2001:2::/48", AddressKind.BENCHMARKING),
    ("2001::/23", AddressKind.RESERVED),  # IETF protocol assignments (Teredo is unwrapped first)
    ("2001:db8::/32", AddressKind.DOCUMENTATION),
    ("3fff::/20", AddressKind.DOCUMENTATION),
    ("5f00::/16", AddressKind.RESERVED),  # SRv6 SIDs
    ("fc00::/7", AddressKind.PRIVATE),  # unique local
    ("fe80::/10", AddressKind.LINK_LOCAL),
    ("fec0::/10", AddressKind.PRIVATE),  # deprecated site-local
    ("ff00::/8", AddressKind.MULTICAST),
)
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")  # everything else is unassigned
_U32 = 0xFFFFFFFF


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses that an IPv6 transition form carries, where the traffic really goes."""
    n = int(ip)
    v4 = ipaddress.IPv4Address
    if n >> 32 in (0xFFFF, 0xFFFF0000):  # ::ffff:a.b.c.d mapped, ::ffff:0:a.b.c.d translated
        return [v4(n & _U32)]
    if n >> 32 == 0 and n > 1:  # ::a.b.c.d, deprecated IPv4-compatible (:: and ::1 excluded)
        return [v4(n & _U32)]
    if n >> 32 == 0x0064FF9B << 64:  # 64:ff9b::/96, NAT64 well-known prefix
        return [v4(n & _U32)]
    if n >> 112 == 0x2002:  # 6to4: 2002:AABB:CCDD::/48
        return [v4((n >> 80) & _U32)]
    if n >> 96 == 0x20010000:  # Teredo: server in bits 32-63, client inverted in the low 32
        return [v4((n >> 64) & _U32), v4(~n & _U32)]
    return []


def _classify(ip: IPAddress) -> AddressKind | None:
    if ip in METADATA_ADDRESSES:
        return AddressKind.METADATA
    if isinstance(ip, ipaddress.IPv4Address):
        return next((kind for net, kind in _V4_TABLE if ip in net), None)
    for inner in _embedded_ipv4(ip):
        # The embedded address decides: ::ffff:127.0.0.1 is loopback, 64:ff9b::8.8.8.8 public.
        if (kind := _classify(inner)) is not None:
            return kind
    if _embedded_ipv4(ip):
        return None
    kind = next((kind for net, kind in _V6_TABLE if ip in net), None)
    if kind is None and ip not in _V6_GLOBAL_UNICAST:
        return AddressKind.RESERVED
    return kind


def check_address(
    ip: IPAddress, *, allow_private: bool = False, allowed_networks: Sequence[IPNetwork] = ()
) -> AddressKind | None:
    """Why ``ip`` must not be contacted, or ``None`` when it may be.

    ``allow_private`` lets loopback, private and CGNAT addresses through; ``allowed_networks``
    lets any address in them through (an on-prem image host, a test server). Metadata addresses
    are refused whatever the settings.

    >>> check_address(ipaddress.ip_address("::ffff:10.0.0.5"))
    <AddressKind.PRIVATE: 'private'>
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(int(ip))  # the zone does not change what the address is
    kind = _classify(ip)
    if kind is None or kind is AddressKind.METADATA:
        return kind
    if any(ip in net for net in allowed_networks):
        return None
    if allow_private and kind in PRIVATE_KINDS:
        return None
    return kind


_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def _parse_ipv4_number(label: str) -> int:
    if label[:2] in ("0x", "0X"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)  # ValueError on 8 or 9, as inet_aton refuses them too
    return int(label)


def parse_host(host: str) -> IPAddress | str:
    """An address when ``host`` spells one (in any form a resolver would accept), else the
    lower-cased host name. Raises ``ValueError`` with a phrase for hosts that are neither.

    Numeric forms follow inet_aton and the WHATWG URL standard, because getaddrinfo (and every
    browser) treats them as addresses: ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and ``127.1``
    are all 127.0.0.1.

    >>> parse_host("0x7f.1")
    IPv4Address('127.0.0.1')
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise ValueError("has an IPv6 zone id, which is not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("is not a valid IPv6 address") from None
    name = host.lower().removesuffix(".")
    labels = name.split(".")
    if _NUMBER.fullmatch(labels[-1]):
        # No TLD is numeric, so a numeric last label means the whole host is meant as IPv4.
        try:
            numbers = [_parse_ipv4_number(label) for label in labels]
        except ValueError:
            raise ValueError("is not a valid IPv4 address") from None
        *head, last = numbers
        if len(numbers) > 4 or any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
            raise ValueError("is not a valid IPv4 address")
        value = last
        for i, n in enumerate(head):
            value += n << (8 * (3 - i))
        return ipaddress.IPv4Address(value)
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("is not a valid host name")
    return name


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, through the event loop's getaddrinfo."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found = (
        ipaddress.ip_address(str(info[4][0]))
        for info in infos
        if info[0] in (socket.AF_INET, socket.AF_INET6)
    )
    return list(dict.fromkeys(found))
