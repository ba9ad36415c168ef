"""Every route, fuzzed with schemathesis from the app's own OpenAPI document, against a real
server: no input may produce a 5xx, and every answer must match the documented schema. Every
route is in the document, so a new one is fuzzed without a change here; the admin routes, which
answer a client key 403 whatever it sends, are fuzzed with an admin key as well."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import TEST_KEY, LiveServer
from vidgen.api.app import create_app
from vidgen.settings import Settings

pytestmark = pytest.mark.slow

ADMIN_KEY = "vg_fuzz_admin_" + "f" * 34


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.conftest import free_port, live_server_env

    root = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    # The default fetch policy (https only, public addresses only): random URLs must not make the
    # server call itself or anything else on this machine.
    env = live_server_env(
        root / "data",
        VIDGEN_FETCH_ALLOW_HTTP="false",
        VIDGEN_FETCH_ALLOW_PRIVATE="false",
        VIDGEN_FETCH_CONNECT_TIMEOUT="1",
        VIDGEN_LOG_LEVEL="WARNING",
        VIDGEN_ADMIN_KEYS=ADMIN_KEY,
    )
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=env,
        log_path=root / "server.log",
        port=port,
    )
    server.start()
    yield server
    server.stop()


# The document comes from the app object itself (building it starts nothing); the calls go to
# the real server above.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case: schemathesis.Case, fuzzed_server: LiveServer) -> None:
    case.call_and_validate(
        base_url=fuzzed_server.base_url,
        headers={"Authorization": f"Bearer {TEST_KEY}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_without_a_key_makes_the_server_fail(
    case: schemathesis.Case, fuzzed_server: LiveServer
) -> None:
    case.call_and_validate(base_url=fuzzed_server.base_url, checks=[not_a_server_error], timeout=30)


@schema.include(path_regex="^/v1/admin/").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_to_an_admin_route_makes_the_server_fail(
    case: schemathesis.Case, fuzzed_server: LiveServer
) -> None:
    case.call_and_validate(
        base_url=fuzzed_server.base_url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )
