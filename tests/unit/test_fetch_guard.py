"""The SSRF guard's pure parts: which hosts and addresses may be contacted, however spelled.

Nothing here touches the network: URL checks run through ``SafeFetcher.check_url`` with a fake
resolver, and ``check_url`` sends nothing.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest

from vidgen.media.addresses import AddressKind, IPAddress, check_address, parse_host
from vidgen.media.fetch import (
    FetchFailed,
    FetchPolicy,
    FetchRefused,
    SafeFetcher,
)

K = AddressKind


# --- parse_host: every spelling of an address is recognised as that address ------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0177.0000.0000.0001", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),  # hex
        ("0X7F.0x0.0x0.0x1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # one octal number
        ("127.1", "127.0.0.1"),  # short forms: the last part fills the rest
        ("127.0.1", "127.0.0.1"),
        ("10.0x00.0377", "10.0.0.255"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("169.254.43518", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("127.0.0.1.", "127.0.0.1"),  # a trailing dot changes nothing
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("[::FFFF:7F00:1]", "::ffff:7f00:1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("fd00:ec2::254", "fd00:ec2::254"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, expected: str) -> None:
    assert parse_host(host) == ip_address(expected)


@pytest.mark.parametrize(
    ("host", "phrase"),
    [
        ("256.0.0.1", "IPv4"),
        ("1.2.3.4.5", "IPv4"),
        ("08.0.0.1", "IPv4"),  # 8 is not an octal digit
        ("1..1", "IPv4"),
        ("4294967296", "IPv4"),  # one past 255.255.255.255
        ("1.16777216", "IPv4"),
        ("example.123", "IPv4"),  # no top-level domain is numeric
        ("fe80::1%eth0", "zone id"),
        ("[fe80::1%25eth0]", "zone id"),
        ("::ffff:1.2.3", "IPv6"),
        ("%31%32%37.0.0.1", "IPv4"),  # percent-encoding is not decoded
        ("%31%32%37.example.com", "host name"),
        ("exa mple.com", "host name"),
        ("-example.com", "host name"),
        ("", "host name"),
        ("a" * 64 + ".com", "host name"),
    ],
)
def test_hosts_that_are_neither_address_nor_name_are_rejected(host: str, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        parse_host(host)


def test_host_names_are_kept_as_lower_case_names() -> None:
    assert parse_host("Images.Example.COM.") == "images.example.com"
    assert parse_host("xn--bcher-kva.de") == "xn--bcher-kva.de"
    assert parse_host("my_bucket.s3.example.com") == "my_bucket.s3.example.com"


# --- check_address: every non-public range, in both families ----------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", K.LOOPBACK),
        ("127.255.255.254", K.LOOPBACK),
        ("10.0.0.5", K.PRIVATE),
        ("172.16.0.1", K.PRIVATE),
        ("172.31.255.255", K.PRIVATE),
        ("192.168.1.1", K.PRIVATE),
        ("100.64.0.1", K.SHARED),
        ("100.127.255.254", K.SHARED),
        ("169.254.1.1", K.LINK_LOCAL),
        ("224.0.0.1", K.MULTICAST),
        ("239.255.255.250", K.MULTICAST),
        ("240.0.0.1", K.RESERVED),
        ("255.255.255.255", K.RESERVED),
        ("0.0.0.0", K.UNSPECIFIED),
        ("0.1.2.3", K.RESERVED),
        ("192.0.0.8", K.RESERVED),
        ("192.0.2.1", K.DOCUMENTATION),
        ("198.51.100.7", K.DOCUMENTATION),
        ("203.0.113.9", K.DOCUMENTATION),
        ("198.18.0.1", K.BENCHMARKING),
        ("198.19.255.255", K.BENCHMARKING),
        ("::1", K.LOOPBACK),
        ("::", K.UNSPECIFIED),
        ("fc00::1", K.PRIVATE),
        ("fd12:3456::1", K.PRIVATE),
        ("fec0::1", K.PRIVATE),
        ("fe80::1", K.LINK_LOCAL),
        ("ff02::1", K.MULTICAST),
        ("2001:db8::1", K.DOCUMENTATION),
        ("3fff::1", K.DOCUMENTATION),
        ("2001:2::1", K.BENCHMARKING),
        ("2001:10::1", K.RESERVED),  # ORCHID
        ("100::1", K.RESERVED),
        ("64:ff9b:1::a00:5", K.PRIVATE),
        ("4000::1", K.RESERVED),  # outside 2000::/3: not assigned to anyone
        ("1::1", K.RESERVED),
        # IPv6 forms that carry an IPv4 address are judged by that address.
        ("::ffff:127.0.0.1", K.LOOPBACK),  # IPv4-mapped
        ("::ffff:7f00:1", K.LOOPBACK),
        ("::ffff:10.0.0.5", K.PRIVATE),
        ("::ffff:0:127.0.0.1", K.LOOPBACK),  # IPv4-translated
        ("::127.0.0.1", K.LOOPBACK),  # IPv4-compatible
        ("::a00:5", K.PRIVATE),
        ("::2", K.RESERVED),
        ("64:ff9b::127.0.0.1", K.LOOPBACK),  # NAT64
        ("64:ff9b::a00:5", K.PRIVATE),
        ("2002:7f00:1::", K.LOOPBACK),  # 6to4
        ("2002:a00:5::1", K.PRIVATE),
        ("2002:c0a8:101::1", K.PRIVATE),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", K.LOOPBACK),  # Teredo, client 127.0.0.1
        ("2001:0:7f00:1::", K.LOOPBACK),  # Teredo, server 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: AddressKind) -> None:
    assert check_address(ip_address(address)) is kind


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "192.0.0.192",
        "168.63.129.16",
        "fd00:ec2::254",
        "fd20:ce::254",
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
        "64:ff9b::169.254.169.254",
        "2002:a9fe:a9fe::",
    ],
)
def test_metadata_addresses_are_refused_even_when_everything_else_is_allowed(address: str) -> None:
    everything = (ip_network("0.0.0.0/0"), ip_network("::/0"))
    ip = ip_address(address)
    assert check_address(ip) is K.METADATA
    assert check_address(ip, allow_private=True, allowed_networks=everything) is K.METADATA


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.0",  # just above
        "172.15.255.255",
        "172.32.0.0",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82a::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert check_address(ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.10", "fd12::1", "100.64.0.1", "::ffff:10.0.0.5"],
)
def test_allow_private_lets_loopback_and_private_addresses_through(address: str) -> None:
    ip = ip_address(address)
    assert check_address(ip) is not None
    assert check_address(ip, allow_private=True) is None


@pytest.mark.parametrize(
    "address", ["169.254.1.1", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "240.0.0.1", "192.0.2.1"]
)
def test_allow_private_does_not_open_link_local_unspecified_or_reserved(address: str) -> None:
    assert check_address(ip_address(address), allow_private=True) is not None


def test_an_allowed_network_admits_exactly_its_own_addresses() -> None:
    allowed = (ip_network("127.0.0.1/32"),)
    assert check_address(IPv4Address("127.0.0.1"), allowed_networks=allowed) is None
    assert check_address(IPv4Address("127.0.0.2"), allowed_networks=allowed) is K.LOOPBACK
    assert check_address(IPv6Address("::1"), allowed_networks=allowed) is K.LOOPBACK


def test_a_zone_id_does_not_hide_a_link_local_address() -> None:
    assert check_address(IPv6Address("fe80::1%eth0")) is K.LINK_LOCAL


# --- whole URLs through check_url (a fake resolver; nothing is sent) --------------------------


def fake_dns(table: dict[str, Sequence[str]]) -> SafeFetcher:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ip_address(a) for a in table[host]]

    return SafeFetcher(FetchPolicy(), resolver=resolve)


PUBLIC = {"images.example.com": ["93.184.215.14"]}


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/cat.png",
        "https://2130706433/cat.png",
        "https://0x7f.0.0.1/cat.png",
        "https://0x7f000001/cat.png",
        "https://127.1/cat.png",
        "https://127.0.0.1./cat.png",
        "https://[::1]/cat.png",
        "https://[::ffff:127.0.0.1]/cat.png",
        "https://[::ffff:7f00:1]:8443/cat.png",
        "https://[0:0:0:0:0:ffff:7f00:1]/cat.png",
        "https://[64:ff9b::7f00:1]/cat.png",
        "https://[2002:7f00:1::]/cat.png",
        "https://0.0.0.0/cat.png",
        "https://0/cat.png",
        "https://[::]/cat.png",
        "https://10.0.0.5/cat.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://2852039166/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
    ],
)
async def test_urls_naming_a_non_public_address_in_any_spelling_are_refused(url: str) -> None:
    async with fake_dns(PUBLIC) as fetcher:
        with pytest.raises(FetchRefused) as caught:
            await fetcher.check_url(url)
    assert caught.value.reason == "address"
    assert "only public addresses are allowed" in caught.value.message


async def test_a_host_is_refused_when_any_of_its_addresses_is_private() -> None:
    async with fake_dns({"mixed.example.com": ["93.184.215.14", "10.0.0.5"]}) as fetcher:
        with pytest.raises(FetchRefused) as caught:
            await fetcher.check_url("https://mixed.example.com/cat.png", subject="image")
    assert caught.value.message == (
        "image URL host resolves to a private address; only public addresses are allowed"
    )


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "cloud metadata"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("100.64.1.1", "shared (CGNAT)"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
    ],
)
async def test_a_name_resolving_to_a_non_public_address_is_refused(answer: str, kind: str) -> None:
    async with fake_dns({"evil.example.com": [answer]}) as fetcher:
        with pytest.raises(FetchRefused, match=rf"resolves to an? {re.escape(kind)} address"):
            await fetcher.check_url("https://evil.example.com/")


async def test_a_public_https_url_passes_and_yields_its_addresses() -> None:
    async with fake_dns(PUBLIC) as fetcher:
        assert await fetcher.check_url("https://images.example.com/cat.png") == [
            ip_address("93.184.215.14")
        ]
        assert await fetcher.check_url("https://8.8.8.8/cat.png") == [ip_address("8.8.8.8")]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://images.example.com/cat.png", "scheme"),
        ("ftp://images.example.com/cat.png", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://images.example.com/", "scheme"),
        ("//images.example.com/cat.png", "scheme"),
        ("cat.png", "scheme"),
        ("https://user:secret@images.example.com/cat.png", "userinfo"),
        ("https://user@images.example.com/cat.png", "userinfo"),
        ("https://127.0.0.1\\@images.example.com/", "userinfo"),
        ("https:///cat.png", "host"),
        ("https://images.example.com:0/cat.png", "port"),
        ("https://images.example.com:65536/cat.png", "port"),
        ("https://[fe80::1%25eth0]/cat.png", "host"),
        ("https://%31%32%37.0.0.1/cat.png", "host"),
        ("https://1.2.3.4.5/cat.png", "host"),
        ("https://0177.0.0.1/cat.png", "invalid_url"),  # httpx refuses octal quads itself
    ],
)
async def test_malformed_or_disallowed_urls_are_refused(url: str, reason: str) -> None:
    async with fake_dns(PUBLIC) as fetcher:
        with pytest.raises(FetchRefused) as caught:
            await fetcher.check_url(url)
    assert caught.value.reason == reason


async def test_plain_http_passes_only_when_the_policy_allows_it() -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip_address("93.184.215.14")]

    async with SafeFetcher(FetchPolicy(allow_http=True), resolver=resolve) as fetcher:
        assert await fetcher.check_url("http://images.example.com/cat.png")
    async with SafeFetcher(FetchPolicy(), resolver=resolve) as fetcher:
        with pytest.raises(FetchRefused, match="must use https; plain http is not allowed"):
            await fetcher.check_url("http://images.example.com/cat.png")


async def test_allow_private_admits_loopback_urls_but_never_metadata() -> None:
    async with SafeFetcher(FetchPolicy(allow_private=True)) as fetcher:
        assert await fetcher.check_url("https://127.0.0.1/") == [ip_address("127.0.0.1")]
        with pytest.raises(FetchRefused, match="cloud metadata"):
            await fetcher.check_url("https://169.254.169.254/")
        with pytest.raises(FetchRefused, match="link-local"):
            await fetcher.check_url("https://169.254.1.1/")


async def test_an_unknown_host_is_a_failure_that_names_it() -> None:
    async with fake_dns(PUBLIC) as fetcher:
        with pytest.raises(FetchFailed) as caught:
            await fetcher.check_url("https://nowhere.example.com/", subject="image")
    assert caught.value.message == "image URL host nowhere.example.com could not be resolved"
    assert not caught.value.retryable
