"""Pydantic models of the versioned spec, ``version: agentwatch/v1``.

Sections are separate models so later issues can add theirs (``dashboards``, ``autoscaling``)
without touching the SLO ones. Every model forbids unknown keys, so a typo is an error naming the
field and listing the allowed ones. Catalogue checks (metric, label, bucket) happen here too, so
the loader can point at the exact line.

Usage::

    from agentwatch.spec import load_spec
    spec = load_spec("agentwatch.yaml")
    spec.slos[0].sli.kind          # 'availability'
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agentwatch.durations import parse_duration
from agentwatch.telemetry import catalogue as c

__all__ = [
    "SLI",
    "SLO",
    "TARGET_LABELS",
    "AlertSettings",
    "Alerting",
    "AlertmanagerSettings",
    "Autoscaling",
    "AvailabilitySLI",
    "BusinessHours",
    "Dashboards",
    "KPIs",
    "KedaSettings",
    "LatencySLI",
    "RawSLI",
    "Receiver",
    "ScalingPolicy",
    "Service",
    "Spec",
    "Threshold",
    "le_text",
]

#: Labels Prometheus adds to every scraped series (not in the catalogue, but valid in selectors).
TARGET_LABELS: tuple[str, ...] = ("job", "instance", "namespace", "pod", "service", "cluster")

_NAME = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _duration_text(value: str) -> str:
    parse_duration(value)  # raises DurationError (a ValueError): pydantic reports it at the field
    return value


#: A Prometheus duration (``30s``, ``5m``, ``1h30m``), checked by the one parser.
DurationText = Annotated[str, AfterValidator(_duration_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _check_label_names(labels: dict[str, str]) -> dict[str, str]:
    bad = [k for k in labels if not _LABEL_NAME.match(k) or k.startswith("__")]
    if bad:
        raise ValueError(f"invalid Prometheus label name(s) {bad} (allowed: [a-zA-Z_][a-zA-Z0-9_]*)")
    return labels


def le_text(value: float) -> str:
    """A bucket bound as the Prometheus Python client exposes it in ``le`` (``1.0``, ``0.25``)."""
    return c.bucket_label(value)


def _check_selector(metric: c.MetricDef, selector: dict[str, str]) -> dict[str, str]:
    allowed = [*metric.labels, *TARGET_LABELS]
    for name, value in selector.items():
        if name not in allowed or name in ("code", "le"):
            usable = [a for a in allowed if a not in ("code", "le")]
            raise ValueError(f"unknown label {name!r} for {metric.name} (allowed: {', '.join(usable)})")
        values = c.LABELS[name].values if name in c.LABELS else None
        plain = value.lstrip("!")
        if values is not None and not plain.startswith("~") and plain not in values:
            raise ValueError(f"label {name}={value!r} is not a value {metric.name} can carry "
                             f"(allowed: {', '.join(values)})")
    return selector


def _histogram_with_code(name: str) -> str:
    options = [m.name for m in c.METRICS if m.kind == "histogram" and "code" in m.labels]
    if name not in options:
        raise ValueError(f"unknown metric {name!r} (allowed: {', '.join(options)})")
    return name


class _RequestSLI(_Model):
    metric: str = c.REQUEST_DURATION.name
    route: str | None = None
    selector: dict[str, str] = {}

    _metric_ok = field_validator("metric")(_histogram_with_code)

    @field_validator("selector")
    @classmethod
    def _selector_ok(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if "metric" in info.data:
            _check_selector(c.by_name(info.data["metric"]), value)
        return value

    def matchers(self) -> dict[str, str]:
        """Label matchers of the SLI's requests (route first, then the selector)."""
        return {**({"route": self.route} if self.route else {}), **self.selector}


class AvailabilitySLI(_RequestSLI):
    """Good = not 5xx; 4xx are the client's fault and count as served."""

    bad_codes: str = Field("5..", description="Regex of status codes that count as bad.")


class LatencySLI(_RequestSLI):
    """Good = served within ``threshold`` seconds, read from the histogram's ``le`` bucket."""

    threshold: float = Field(description="Seconds; must be one of the histogram's bucket bounds.")

    @field_validator("threshold")
    @classmethod
    def _threshold_is_bucket(cls, value: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric")
        buckets = c.by_name(metric).buckets or () if metric else ()
        if metric and value not in buckets:
            raise ValueError(f"threshold {value}s is not a bucket of {metric} "
                             f"(allowed: {', '.join(le_text(b) for b in buckets)})")
        return value

    @property
    def le(self) -> str:
        return le_text(self.threshold)


class RawSLI(_Model):
    """The user's own PromQL; ``{{.window}}`` (Sloth's placeholder) is replaced by each window.

    Give ``total`` and one of ``bad``/``good``. Each query must return one label-less series
    (wrap it in ``sum()``).
    """

    bad: str | None = None
    good: str | None = None
    total: str

    @model_validator(mode="after")
    def _one_of(self) -> RawSLI:
        if (self.bad is None) == (self.good is None):
            raise ValueError("give exactly one of bad, good (allowed: bad, good)")
        for query in (self.bad, self.good, self.total):
            if query is not None and "{{.window}}" not in query.replace(" ", ""):
                raise ValueError("every raw query needs the {{.window}} placeholder, e.g. "
                                 "sum(rate(my_requests_total[{{.window}}]))")
        return self


class SLI(_Model):
    availability: AvailabilitySLI | None = None
    latency: LatencySLI | None = None
    raw: RawSLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLI:
        given = [k for k in ("availability", "latency", "raw") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an SLI is exactly one of (allowed: availability, latency, raw)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("availability", "latency", "raw") if getattr(self, k) is not None)


class AlertSettings(_Model):
    """One severity (page or ticket) of an SLO's burn-rate alerts."""

    disable: bool = False
    name: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}

    _labels_ok = field_validator("labels")(_check_label_names)


class Alerting(_Model):
    name: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="Alert name for both severities (default AgentWatch<Slo>).")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    runbook_url: str | None = None
    page: AlertSettings = AlertSettings()
    ticket: AlertSettings = AlertSettings()

    _labels_ok = field_validator("labels")(_check_label_names)


class SLO(_Model):
    name: str = Field(pattern=_NAME, max_length=63)
    description: str = ""
    objective: float = Field(description="Target in percent, strictly between 0 and 100.")
    window: Literal["30d", "28d", "7d"] = "30d"
    sli: SLI
    labels: dict[str, str] = {}
    alerting: Alerting = Alerting()

    _labels_ok = field_validator("labels")(_check_label_names)

    @field_validator("objective")
    @classmethod
    def _in_range(cls, value: float) -> float:
        if not 0 < value < 100:
            raise ValueError(f"objective {value} is not a percentage (allowed: 0 < objective < 100, "
                             "e.g. 99.9)")
        return value

    @property
    def error_budget(self) -> Decimal:
        """``1 - objective`` as an exact decimal (99.9 → 0.001, no float noise)."""
        return (Decimal(100) - Decimal(repr(self.objective))) / Decimal(100)

    @property
    def objective_ratio(self) -> Decimal:
        return Decimal(repr(self.objective)) / Decimal(100)


class Service(_Model):
    name: str = Field(pattern=_NAME, max_length=63)
    selector: dict[str, str] = Field({}, description="Matchers added to every query (e.g. job).")
    labels: dict[str, str] = Field({}, description="Labels added to every generated rule.")

    _labels_ok = field_validator("labels")(_check_label_names)

    @field_validator("selector")
    @classmethod
    def _target_labels_only(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in value if k not in TARGET_LABELS]
        if unknown:
            raise ValueError(f"unknown label(s) {unknown} in the service selector "
                             f"(allowed: {', '.join(TARGET_LABELS)})")
        return value


class Threshold(_Model):
    """A KPI alert: fire when the value crosses ``above``/``below`` for ``for``."""

    enabled: bool = True
    above: float | None = None
    below: float | None = None
    window: DurationText = "10m"
    for_: DurationText = Field("5m", alias="for")
    severity: Literal["page", "ticket"] = "ticket"
    classes: tuple[str, ...] = ()
    spike_factor: float = Field(3.0, gt=1)
    baseline_offset: DurationText = "1d"
    runbook_url: str | None = None

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in c.ERROR_CLASSES]
        if unknown:
            raise ValueError(f"unknown error class(es) {unknown} (allowed: {', '.join(c.ERROR_CLASSES)})")
        return value


def _t(**kw: Any) -> Any:
    return Field(default_factory=lambda: Threshold(**kw))


class KPIs(_Model):
    """Business and operational alerts; every value is read from catalogue metrics."""

    route: str | None = Field(None, description="Route whose traffic the no-traffic alert watches.")
    escalation_rate: Threshold = _t(above=0.2, window="10m", **{"for": "30m"})
    first_contact_resolution: Threshold = _t(below=0.6, window="1h", **{"for": "1h"})
    error_class_spike: Threshold = _t(above=0.1, window="5m", baseline_offset="1h", **{"for": "5m"})
    queue_saturation: Threshold = _t(above=0.8, window="5m", **{"for": "5m"})
    model_not_loaded: Threshold = _t(severity="page", **{"for": "5m"})
    state_store_errors: Threshold = _t(above=0.05, window="5m", severity="page", **{"for": "5m"})
    no_traffic: Threshold = _t(below=0.01, window="10m", severity="page", **{"for": "10m"})


class Receiver(_Model):
    url: str = Field(pattern=r"^https?://")
    send_resolved: bool = True


class AlertmanagerSettings(_Model):
    """Alertmanager routing: page and ticket alerts go to different webhook receivers."""

    page: Receiver = Receiver(url="http://127.0.0.1:9094/alerts/page")
    ticket: Receiver = Receiver(url="http://127.0.0.1:9094/alerts/ticket")
    default: Receiver = Receiver(url="http://127.0.0.1:9094/alerts/default")
    group_by: tuple[str, ...] = ("alertname", "service", "slo")
    group_wait: DurationText = "30s"
    group_interval: DurationText = "5m"
    repeat_interval: DurationText = "4h"


class Dashboards(_Model):
    """Grafana dashboard settings."""

    #: ``service.name`` of the agent's traces in Jaeger, for the exemplar and trace links.
    trace_service: str = Field("agentwatch-agent", min_length=1)


# --- autoscaling: Kubernetes workload and autoscaler settings (agentwatch generate k8s) -------

_QUANTITY = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
             r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
_CRON_FIELD = r"[0-9*/,\-A-Za-z]+"
_CRON = rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$"
ResourceName = Literal["cpu", "memory", "ephemeral-storage"]


class ScalingPolicy(_Model):
    """One direction of the autoscaler's ``behavior``: how fast replicas may be added or removed.

    Both ``percent`` and ``pods`` may be given; ``select_policy`` picks the larger (Max) or the
    smaller (Min) change per period.
    """

    stabilization_window_seconds: int = Field(ge=0, le=3600)
    percent: int | None = Field(None, gt=0, description="Change of up to this % of current pods per period.")
    pods: int | None = Field(None, gt=0, description="Change of up to this many pods per period.")
    period_seconds: int = Field(60, gt=0, le=1800)
    select_policy: Literal["Max", "Min"] = "Max"

    @model_validator(mode="after")
    def _some_policy(self) -> ScalingPolicy:
        if self.percent is None and self.pods is None:
            raise ValueError("give percent, pods or both (allowed: percent, pods)")
        return self


class BusinessHours(_Model):
    """A KEDA cron trigger: keep at least ``desired_replicas`` between ``start`` and ``end``."""

    timezone: str = Field(min_length=1, description="IANA name, e.g. Europe/Berlin.")
    start: str = Field(pattern=_CRON, description="5-field cron, e.g. '0 8 * * 1-5'.")
    end: str = Field(pattern=_CRON)
    desired_replicas: int = Field(ge=1)

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (allowed: an IANA name such as "
                             "Europe/Berlin or UTC)") from None
        return value

    @field_validator("end")
    @classmethod
    def _differs(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("start"):
            raise ValueError("end must differ from start (allowed: another cron expression)")
        return value


class KedaSettings(_Model):
    """The KEDA ScaledObject of the ``keda`` overlay (the ``hpa`` overlay ignores this)."""

    server_address: str = Field("http://prometheus-operated.monitoring.svc:9090", pattern=r"^https?://")
    polling_interval: int = Field(15, ge=1, description="Seconds between trigger queries.")
    cooldown_period: int = Field(300, ge=0, description="Seconds (only for scaling to zero).")
    initial_cooldown_period: int = Field(0, ge=0)
    fallback_replicas: int = Field(2, ge=1, description="Replicas while Prometheus cannot be queried.")
    failure_threshold: int = Field(3, ge=1, description="Failed queries before the fallback applies.")
    business_hours: BusinessHours | None = None


class Autoscaling(_Model):
    """The Kubernetes side: workload, probes, resources, and the HPA or KEDA autoscaler.

    ``queue_length_target`` is the average number of requests waiting for inference per pod that
    the autoscaler aims at (the capacity dashboard draws it as the target line);
    ``inference_time_target`` the average seconds per forward pass per pod. Both, and the
    requests and limits, are derived from a measurement by ``agentwatch capacity`` /
    ``agentwatch recommend``; ``derived_from`` names that measurement's file, so a test can re-derive
    them.
    """

    namespace: str = Field("agentwatch", pattern=_NAME, max_length=63)
    image: str = Field("ghcr.io/agentwatch/agentwatch:0.1.0", min_length=1)
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    port: int = Field(8080, ge=1, le=65535)
    min_replicas: int = Field(2, ge=1)
    max_replicas: int = Field(10, ge=1)
    queue_length_target: float = Field(8.0, gt=0)
    inflight_target: float | None = Field(None, gt=0, description="Optional 2nd metric: requests in flight per pod.")
    inference_time_target: float | None = Field(None, gt=0, description="Average seconds per forward pass per pod.")
    derived_from: str | None = Field(None, min_length=1, description="The capacity run (JSON) the targets, "
                                     "requests and limits were derived from (agentwatch capacity).")
    scale_up: ScalingPolicy = ScalingPolicy(stabilization_window_seconds=0, percent=100, pods=4,
                                            period_seconds=15)
    scale_down: ScalingPolicy = ScalingPolicy(stabilization_window_seconds=300, percent=50, period_seconds=60,
                                              select_policy="Min")
    keda: KedaSettings = KedaSettings()
    requests: dict[ResourceName, str] = {"cpu": "1", "memory": "1Gi"}
    limits: dict[ResourceName, str] = {"memory": "2Gi"}
    torch_threads: int = Field(1, ge=1, description="AGENT_TORCH_THREADS: match the CPU request.")
    startup_timeout_seconds: int = Field(120, ge=5, description="Longest cold start (model load) allowed.")
    termination_grace_period_seconds: int = Field(30, ge=1)
    redis_secret: str = Field("agentwatch-redis", pattern=_NAME, description="Secret holding REDIS_URL.")
    redis_secret_key: str = Field("url", pattern=r"^[-._a-zA-Z0-9]+$")
    otlp_endpoint: str | None = Field(None, pattern=r"^https?://")
    scrape_interval: DurationText = "15s"
    pdb_max_unavailable: int = Field(1, ge=1)
    monitor_labels: dict[str, str] = Field({}, description="Labels the Prometheus selects monitors and "
                                           "rules by, e.g. {release: kube-prometheus-stack}.")
    adapter_namespace: str = Field("monitoring", pattern=_NAME, max_length=63)
    adapter_config_map: str = Field("prometheus-adapter", pattern=_NAME)

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_replicas")
        if low is not None and value < low:
            raise ValueError(f"max_replicas {value} is below min_replicas {low} "
                             "(allowed: max_replicas >= min_replicas)")
        return value

    @field_validator("monitor_labels")
    @classmethod
    def _k8s_label_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not re.match(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", k)]
        if bad:
            raise ValueError(f"invalid Kubernetes label key(s) {bad} (allowed: [prefix/]name, e.g. release)")
        return value

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        bad = {k: v for k, v in value.items() if not isinstance(v, str) or not re.match(_QUANTITY, v)}
        if bad:
            raise ValueError(f"invalid resource quantity {bad} (allowed: Kubernetes quantities such as "
                             "'500m', '1', '1Gi' written as strings)")
        return value


class Spec(_Model):
    version: Literal["agentwatch/v1"]
    service: Service
    slos: tuple[SLO, ...] = ()
    kpis: KPIs = KPIs()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    dashboards: Dashboards = Dashboards()
    autoscaling: Autoscaling | None = None
    #: The spec file's name, set by the loader; generated files name it in their DO-NOT-EDIT header.
    _source: str = PrivateAttr("agentwatch.yaml")

    @property
    def source(self) -> str:
        return self._source

    def __eq__(self, other: object) -> bool:
        # The same content is the same spec, whichever file it was read from.
        if not isinstance(other, Spec):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = _Model.__hash__

    def sloth_id(self, slo: SLO) -> str:
        return f"{self.service.name}-{slo.name}"

    def slow_request_seconds(self, default: float = 1.0) -> float:
        """The strictest latency-SLO threshold (``default`` without one): a request slower than it
        burns latency budget, so the agents always keep its trace (``AGENTWATCH_TRACES_SLOW_SECONDS``)."""
        return min((slo.sli.latency.threshold for slo in self.slos if slo.sli.latency is not None), default=default)
