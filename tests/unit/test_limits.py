from __future__ import annotations

import pytest

from vidgen.core.limits import RateLimiter
from vidgen.errors import RateLimited


def test_a_key_may_burst_up_to_its_per_minute_limit_then_waits() -> None:
    limiter = RateLimiter(per_minute=3)
    for _ in range(3):
        limiter.check("k", now=100.0)
    with pytest.raises(RateLimited) as info:
        limiter.check("k", now=100.0)
    assert info.value.retry_after == pytest.approx(20.0)
    limiter.check("k", now=120.5)  # one token back after 20 s


def test_keys_are_limited_separately() -> None:
    limiter = RateLimiter(per_minute=1)
    limiter.check("a", now=0.0)
    limiter.check("b", now=0.0)
    with pytest.raises(RateLimited):
        limiter.check("a", now=0.0)


def test_zero_means_unlimited() -> None:
    limiter = RateLimiter(per_minute=0)
    for _ in range(1000):
        limiter.check("k", now=0.0)


def test_a_keys_own_limit_overrides_the_global_one_either_way() -> None:
    limiter = RateLimiter(per_minute=0)  # the server: no limit
    limiter.check("strict", per_minute=2, now=0.0)
    limiter.check("strict", per_minute=2, now=0.0)
    with pytest.raises(RateLimited) as info:
        limiter.check("strict", per_minute=2, now=0.0)
    assert "at most 2 generations per minute" in info.value.message
    strict_server = RateLimiter(per_minute=1)
    for _ in range(5):
        strict_server.check("exempt", per_minute=0, now=0.0)  # the key's 0: no limit


def test_a_changed_limit_applies_at_once() -> None:
    limiter = RateLimiter(per_minute=1)
    limiter.check("k", now=0.0)
    with pytest.raises(RateLimited):
        limiter.check("k", now=0.0)
    limiter.check("k", per_minute=10, now=0.0)  # raised by an operator: a full new bucket
