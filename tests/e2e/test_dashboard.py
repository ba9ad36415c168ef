"""``docs/grafana-dashboard.json`` queries only metrics that a running vidgen serves at
``/metrics``: a renamed or removed metric fails here, not on an operator's empty panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status

pytestmark = pytest.mark.slow
DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def queried_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return {name for expr in exprs for name in re.findall(r"\bvidgen_[a-z_]+\b", expr)}


def test_the_dashboard_has_panels_for_the_queue_durations_failures_and_credits() -> None:
    titles = " ".join(p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]).lower()
    for subject in ("queue depth", "duration per engine", "failure", "credits"):
        assert subject in titles


def test_every_metric_the_dashboard_queries_is_served_at_metrics(live_server: LiveServer) -> None:
    with live_server.client() as client:
        made = client.post(
            "/v2/video/generations",
            json={"model": "runway/gen4_turbo", "image_url": data_uri(make_image())},
        )
        wait_for_status(client, made.json()["id"])  # so that every labelled series has a value
        text = client.get("/metrics").text
    served = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    queried = queried_metrics()
    assert queried, "the dashboard queries no vidgen metric"
    assert queried <= served, sorted(queried - served)
