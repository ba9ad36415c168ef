"""Reading the aimlapi upstream's model list (VIDGEN_AIMLAPI_READ_MODELS): its video models, in
either of aimlapi's shapes; and a process that starts when the upstream is down."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import free_port, make_settings
from vidgen.configuration import ConfigurationError, check_configuration
from vidgen.engines.aimlapi_models import video_model_ids

# The shape of aimlapi's GET /models (docs.aimlapi.com), trimmed.
AIMLAPI_LIST = [
    {"id": "o3-mini", "type": "chat-completion", "endpoints": ["/v1/chat/completions"]},
    {"id": "bytedance/seedance-2-pro", "type": "video", "endpoints": []},
    {"id": "kling/v3-omni", "type": "unknown-yet", "endpoints": ["/v2/video/generations"]},
    {"id": "flux/dev", "type": "image", "endpoints": ["/v1/images/generations"]},
    {"id": "bytedance/seedance-2-pro", "type": "video"},  # listed twice: once here
    {"id": "bad id\nwith a newline", "type": "video"},
    {"id": 7, "type": "video"},
    "not an entry",
]


def test_the_video_models_of_an_aimlapi_list_are_read_in_either_shape() -> None:
    expected = ["bytedance/seedance-2-pro", "kling/v3-omni"]
    assert video_model_ids(AIMLAPI_LIST) == expected
    assert video_model_ids({"object": "list", "data": AIMLAPI_LIST}) == expected
    with pytest.raises(ValueError, match="not a list of models"):
        video_model_ids({"message": "Unauthorized"})


def test_a_process_starts_with_its_own_list_when_the_upstreams_list_cannot_be_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="vidgen.engines.aimlapi_models"):
        catalog, engines = check_configuration(
            make_settings(
                tmp_path,
                aimlapi_read_models=True,
                aimlapi_models=["acme/loop-2"],
                upstream_url=down,
                upstream_key="k",
            )
        )
    assert catalog.get("acme/loop-2").passthrough
    assert "aimlapi" in engines
    assert "could not be read" in caplog.text


def test_a_process_reads_the_upstreams_list_once_however_often_it_checks_its_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `vidgen serve` checks before it starts the app, and the app checks again: a down
    # upstream must cost start-up one read deadline, not two.
    down = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path, aimlapi_read_models=True, upstream_url=down, upstream_key="k"
    )
    with caplog.at_level(logging.WARNING, logger="vidgen.engines.aimlapi_models"):
        check_configuration(settings)
        check_configuration(settings)
    assert caplog.text.count("could not be read") == 1


def test_reading_the_upstreams_list_needs_an_upstream(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"VIDGEN_AIMLAPI_READ_MODELS.*VIDGEN_UPSTREAM_URL"
    ):
        check_configuration(make_settings(tmp_path, aimlapi_read_models=True))
