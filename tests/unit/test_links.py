"""Signed download links: bound to one object, expiring, tamper-evident."""

from __future__ import annotations

import time

import pytest

from vidgen.errors import LinkRefused
from vidgen.storage.links import LinkSigner

SIGNER = LinkSigner(secret="s" * 48, ttl_seconds=3600)
KEY = "videos/abc.mp4"


def test_a_fresh_link_opens_its_own_file_for_at_least_its_lifetime() -> None:
    now = time.time()
    token, expires = SIGNER.sign(generation_id="abc", key=KEY, now=now)
    assert SIGNER.verify(token, key=KEY) == "abc"
    assert now + 3600 <= expires <= now + 3600 + SIGNER.granularity


def test_links_signed_within_one_step_are_identical_and_later_ones_are_not() -> None:
    start = 1_800_000_000 - 1_800_000_000 % SIGNER.granularity
    first, _ = SIGNER.sign(generation_id="abc", key=KEY, now=start + 1)
    same, _ = SIGNER.sign(generation_id="abc", key=KEY, now=start + SIGNER.granularity - 1)
    later, _ = SIGNER.sign(generation_id="abc", key=KEY, now=start + SIGNER.granularity + 1)
    assert first == same != later


def test_a_link_does_not_open_another_file() -> None:
    token, _ = SIGNER.sign(generation_id="abc", key=KEY)
    with pytest.raises(LinkRefused, match="another file"):
        SIGNER.verify(token, key="videos/other.mp4")


def test_a_tampered_link_is_refused() -> None:
    token, _ = SIGNER.sign(generation_id="abc", key=KEY)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for bad in (f"{header}.{payload}.{flipped}", token[:-1], token + "x", "not-a-jwt"):
        with pytest.raises(LinkRefused):
            SIGNER.verify(bad, key=KEY)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    token, _ = LinkSigner(secret="t" * 48, ttl_seconds=3600).sign(generation_id="abc", key=KEY)
    with pytest.raises(LinkRefused, match="invalid"):
        SIGNER.verify(token, key=KEY)


def test_an_expired_link_is_refused() -> None:
    token, _ = SIGNER.sign(generation_id="abc", key=KEY, now=time.time() - 7200)
    with pytest.raises(LinkRefused, match="expired"):
        SIGNER.verify(token, key=KEY)


def test_a_missing_token_is_refused() -> None:
    for missing in (None, ""):
        with pytest.raises(LinkRefused, match="missing"):
            SIGNER.verify(missing, key=KEY)
