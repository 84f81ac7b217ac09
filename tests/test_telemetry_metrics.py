"""The catalogue as exposed by a real FastAPI app using the telemetry library."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from agentwatch.telemetry import Metrics, Telemetry, TelemetrySettings
from agentwatch.telemetry import catalogue as c

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def exercise_every_metric(tel: Telemetry) -> None:
    """Record one sample on every catalogue metric, with a valid value for every label."""
    tel.metrics.allow("model", ["tiny"])
    for metric in c.METRICS:
        labels = {}
        for name in metric.labels:
            values = c.LABELS[name].values
            labels[name] = values[0] if values else next(iter(tel.metrics.policy.allowed(name) - {c.OTHER}))
        if metric.name in (c.REQUEST_DURATION.name, c.INFLIGHT_REQUESTS.name):
            continue  # recorded by the middleware from real requests
        if metric.kind == "histogram":
            tel.metrics.observe(metric, 0.5, **labels)
        elif metric.kind == "counter":
            tel.metrics.inc(metric, **labels)
        else:
            tel.metrics.set(metric, 1, **labels)


@pytest.fixture
def app_and_telemetry() -> tuple[FastAPI, Telemetry]:
    tel = Telemetry(TelemetrySettings(strict_labels=True))
    app = FastAPI()

    @app.post("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict:
        return {"id": thing_id}

    tel.instrument_app(app)
    return app, tel


def scrape_families(client: TestClient, accept: str | None = None) -> dict[str, object]:
    response = client.get("/metrics", headers={"accept": accept} if accept else {})
    assert response.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def test_every_catalogue_metric_is_exposed_with_exactly_its_labels(app_and_telemetry):
    app, tel = app_and_telemetry
    client = TestClient(app)
    assert client.post("/v1/things/abc").status_code == 200
    exercise_every_metric(tel)
    response = client.get("/metrics")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    for metric in c.METRICS:
        for series in metric.series_names:
            assert series in samples, f"{series} missing from /metrics"
            for labels in samples[series]:
                names = set(labels) - {"le"}
                assert names == set(metric.labels), f"{series} has labels {names}, catalogue {metric.labels}"


def test_nothing_is_exposed_that_the_catalogue_lacks(app_and_telemetry):
    app, tel = app_and_telemetry
    client = TestClient(app)
    client.post("/v1/things/abc")
    exercise_every_metric(tel)
    known = {s for m in c.METRICS for s in m.series_names} | set(c.EXTERNAL_METRICS)
    exposed = set()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        exposed |= {s.name for s in family.samples if not s.name.endswith("_created")}
    assert exposed, "nothing exposed"
    assert exposed - known == set()


def test_request_metric_uses_the_route_template_never_the_raw_path(app_and_telemetry):
    app, _ = app_and_telemetry
    client = TestClient(app)
    for thing in ("a", "b", "../../etc/passwd", "x" * 300):
        client.post(f"/v1/things/{thing}")
    client.get("/wp-admin/install.php")
    client.request("BREW", "/v1/things/a")
    routes = set()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == c.REQUEST_DURATION.name:
            routes |= {s.labels["route"] for s in family.samples if "route" in s.labels}
    assert routes == {"/v1/things/{thing_id}", "unmatched"}


@pytest.mark.parametrize(
    ("metric", "labels"),
    [
        (c.ERRORS, {"error_class": "'; DROP TABLE"}),
        (c.INTENTS_TOTAL, {"intent": "user-chosen-intent"}),
        (c.CONVERSATIONS_ENDED, {"outcome": "conversation-12345"}),
        (c.INFERENCE_DURATION, {"model": "not-registered", "operation": "classify"}),
    ],
    ids=["error class outside the set", "intent outside the set", "outcome outside the set",
         "model never registered"],
)
def test_a_label_value_outside_its_closed_set_cannot_create_a_series(metric, labels):
    strict = Metrics(CollectorRegistry(), strict=True)
    with pytest.raises(ValueError, match="outside the closed set"):
        if metric.kind == "histogram":
            strict.observe(metric, 1.0, **labels)
        else:
            strict.inc(metric, **labels)

    lenient = Metrics(CollectorRegistry(), strict=False)
    for _ in range(3):
        if metric.kind == "histogram":
            lenient.observe(metric, 1.0, **labels)
        else:
            lenient.inc(metric, **labels)
    folded = {name: c.OTHER if name in labels and labels[name] not in ("classify",) else value
              for name, value in labels.items()}
    series = metric.count if metric.kind == "histogram" else metric.name
    assert lenient.registry.get_sample_value(series, folded) == 3
    assert lenient.registry.get_sample_value(series, labels) is None


def test_wrong_label_names_are_rejected_in_any_mode():
    metrics = Metrics(CollectorRegistry(), strict=False)
    with pytest.raises(ValueError, match="takes labels"):
        metrics.inc(c.ERRORS, error_class="internal", user_id="42")
    with pytest.raises(ValueError, match="takes no labels"):
        metrics.set(c.QUEUE_LENGTH, 1, pod="x")


def test_off_switch_records_nothing_and_keeps_behaviour():
    tel = Telemetry(TelemetrySettings.from_env(env={"AGENTWATCH_TELEMETRY": "off"}))
    assert not tel.settings.enabled
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict:
        with tel.span("work", metric=c.STATE_FETCH_DURATION) as span:
            assert not span.is_recording()
        return {"ok": True}

    tel.instrument_app(app)
    client = TestClient(app)
    assert client.get("/ping").json() == {"ok": True}
    tel.metrics.inc(c.ERRORS, error_class="internal")
    assert tel.registry.get_sample_value(c.STATE_FETCH_DURATION.count) == 0
    assert tel.registry.get_sample_value(c.ERRORS.name, {"error_class": "internal"}) is None
    body = client.get("/metrics").text
    assert f'{c.REQUEST_DURATION.count}{{' not in body


def test_on_switch_records_the_same_calls():
    tel = Telemetry(TelemetrySettings.from_env(env={"AGENTWATCH_TELEMETRY": "on"}))
    with tel.span("work", metric=c.STATE_FETCH_DURATION):
        pass
    tel.metrics.inc(c.ERRORS, error_class="internal")
    assert tel.registry.get_sample_value(c.STATE_FETCH_DURATION.count) == 1
    assert tel.registry.get_sample_value(c.ERRORS.name, {"error_class": "internal"}) == 1


@pytest.mark.parametrize("raw", ["maybe", "2"], ids=["word", "number"])
def test_a_malformed_switch_is_an_error_not_a_silent_default(raw):
    with pytest.raises(ValueError, match="AGENTWATCH_TELEMETRY"):
        TelemetrySettings.from_env(env={"AGENTWATCH_TELEMETRY": raw})


def test_bucket_label_matches_what_client_python_exposes():
    metrics = Metrics(CollectorRegistry(), strict=True)
    metrics.observe(c.REQUEST_DURATION, 0.3, route="other", method="GET", code="200")
    bound = 1.0
    assert bound in c.REQUEST_DURATION.buckets
    value = metrics.registry.get_sample_value(
        c.REQUEST_DURATION.bucket, {"route": "other", "method": "GET", "code": "200", "le": c.bucket_label(bound)})
    assert value == 1
