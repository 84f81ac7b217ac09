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
from agentwatch.telemetry.closed_sets import ClosedSetError, ClosedSets

__all__ = [
    "KPI_DEFAULTS",
    "KPI_READS",
    "RESERVED_ALERT_LABELS",
    "SLI",
    "SLO",
    "TARGET_LABELS",
    "AlertSettings",
    "Alerting",
    "AlertmanagerSettings",
    "Application",
    "Autoscaling",
    "AvailabilitySLI",
    "BusinessHours",
    "CanaryAnalysis",
    "Conversations",
    "Dashboards",
    "KPIs",
    "KedaSettings",
    "LatencySLI",
    "Prewarm",
    "Probes",
    "RawSLI",
    "Receiver",
    "Regression",
    "Releases",
    "ScalingPolicy",
    "Service",
    "Spec",
    "Threshold",
    "le_text",
    "spec_issues",
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

    Either events — ``total`` and one of ``bad``/``good``, each query returning one label-less series
    (wrap it in ``sum()``) — or ``error_ratio``, a query that already returns the error ratio (0-1),
    Sloth's ``raw`` SLI. A ratio carries no traffic volume, so the SLO-period ratio of an
    ``error_ratio`` SLI falls back to Sloth's mean of 5m ratios (the rule says so in a comment);
    events SLIs are traffic-weighted.
    """

    bad: str | None = None
    good: str | None = None
    total: str | None = None
    error_ratio: str | None = Field(None, description="A query returning the error ratio (0-1) itself.")

    @model_validator(mode="after")
    def _one_of(self) -> RawSLI:
        if self.error_ratio is not None:
            given = [k for k in ("bad", "good", "total") if getattr(self, k) is not None]
            if given:
                raise ValueError(f"error_ratio stands alone; drop {', '.join(given)} (allowed: error_ratio, "
                                 "or total with one of bad, good)")
        elif self.total is None:
            raise ValueError("give total with one of bad, good, or error_ratio alone "
                             "(allowed: bad, good, total, error_ratio)")
        elif (self.bad is None) == (self.good is None):
            raise ValueError("give exactly one of bad, good (allowed: bad, good)")
        for query in (self.bad, self.good, self.total, self.error_ratio):
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


#: Labels every burn-rate alert gets from the generator; a user value would be overwritten, so it is an error.
RESERVED_ALERT_LABELS: tuple[str, ...] = ("severity", "sloth_severity", "slo", "service", "long", "short")


def _check_alert_labels(labels: dict[str, str]) -> dict[str, str]:
    _check_label_names(labels)
    reserved = [k for k in labels if k in RESERVED_ALERT_LABELS]
    if reserved:
        raise ValueError(f"label(s) {reserved} are set by agentwatch on every alert (severity is page or ticket, "
                         f"which its Alertmanager routing reads); reserved: {', '.join(RESERVED_ALERT_LABELS)}")
    return labels


class AlertSettings(_Model):
    """One severity (page or ticket) of an SLO's burn-rate alerts."""

    disable: bool = False
    name: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}

    _labels_ok = field_validator("labels")(_check_alert_labels)


class Alerting(_Model):
    name: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="Alert name for both severities (default AgentWatch<Slo>).")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    runbook_url: str | None = None
    page: AlertSettings = AlertSettings()
    ticket: AlertSettings = AlertSettings()

    _labels_ok = field_validator("labels")(_check_alert_labels)


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
    classes: tuple[str, ...] = Field((), description="error_class_spike: the classes watched (default: "
                                                     "every declared 5xx or 429 class).")
    spike_factor: float = Field(3.0, gt=1)
    baseline_offset: DurationText = "1d"
    runbook_url: str | None = None


#: Each KPI alert's defaults; a KPI the spec names (``escalation_rate: {}`` or ``true``) starts from these.
KPI_DEFAULTS: dict[str, dict[str, Any]] = {
    "escalation_rate": {"above": 0.2, "window": "10m", "for": "30m"},
    "first_contact_resolution": {"below": 0.6, "window": "1h", "for": "1h"},
    "error_class_spike": {"above": 0.1, "window": "5m", "baseline_offset": "1h", "for": "5m"},
    "queue_saturation": {"above": 0.8, "window": "5m", "for": "5m"},
    "model_not_loaded": {"severity": "page", "for": "5m"},
    "state_store_errors": {"above": 0.05, "window": "5m", "severity": "page", "for": "5m"},
    "no_traffic": {"below": 0.01, "window": "10m", "severity": "page", "for": "10m"},
}

#: What each KPI alert reads: catalogue metrics (their groups must be emitted) and the label values
#: the application must declare for its query to match anything.
KPI_READS: dict[str, tuple[tuple[c.MetricDef, ...], dict[str, tuple[str, ...]]]] = {
    "escalation_rate": ((c.CONVERSATIONS_ENDED,), {"outcomes": (c.ESCALATED,)}),
    "first_contact_resolution": ((c.CONVERSATIONS_ENDED,), {"outcomes": (c.RESOLVED,)}),
    "error_class_spike": ((c.ERRORS,), {}),
    "queue_saturation": ((c.QUEUE_LENGTH, c.QUEUE_CAPACITY), {}),
    "model_not_loaded": ((c.MODEL_LOADED,), {}),
    "state_store_errors": ((c.ERRORS,), {"error_classes": (c.STATE_STORE_UNAVAILABLE,)}),
    "no_traffic": ((c.REQUEST_DURATION,), {}),
}


class KPIs(_Model):
    """Business and operational alerts: only the ones named here are generated.

    ``escalation_rate: {}`` (or ``true``) takes the KPI's defaults (``KPI_DEFAULTS``); given keys
    override them. A spec without ``kpis:`` generates no KPI alert at all.
    """

    route: str | None = Field(None, description="Route whose traffic the no-traffic alert watches.")
    escalation_rate: Threshold | None = None
    first_contact_resolution: Threshold | None = None
    error_class_spike: Threshold | None = None
    queue_saturation: Threshold | None = None
    model_not_loaded: Threshold | None = None
    state_store_errors: Threshold | None = None
    no_traffic: Threshold | None = None

    @model_validator(mode="before")
    @classmethod
    def _start_from_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, defaults in KPI_DEFAULTS.items():
            given = out.get(name)
            if given is True:
                out[name] = dict(defaults)
            elif given is False:
                out[name] = None
            elif isinstance(given, dict):
                out[name] = {**defaults, **given}
        return out

    def declared(self) -> dict[str, Threshold]:
        """The KPIs this spec names and has not disabled, in ``KPI_DEFAULTS`` order."""
        return {name: t for name in KPI_DEFAULTS if (t := getattr(self, name)) is not None and t.enabled}


class Application(_Model):
    """What the agent is: the closed label values it records and the metric groups it emits.

    A spec without ``application:`` describes the reference agent (the catalogue's values, every
    group). With it nothing is assumed: ``metrics`` names the emitted groups (``catalogue.METRIC_GROUPS``;
    dashboards hide the rest, KPI alerts must read emitted ones) and each set lists the application's
    values. The same sets reach the process through ``Telemetry.declare(spec.closed_sets)``.
    """

    metrics: tuple[str, ...] = Field(("http",), description="Metric groups the service emits.")
    intents: tuple[str, ...] = ()
    error_classes: dict[str, int] = Field({}, description="Error class → HTTP status (400-599), besides "
                                                           "the library's own classes.")
    models: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    escalation_reasons: tuple[str, ...] = ()

    @field_validator("metrics")
    @classmethod
    def _known_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [g for g in value if g not in c.METRIC_GROUPS]
        if unknown:
            raise ValueError(f"unknown metric group(s) {unknown} (allowed: {', '.join(c.METRIC_GROUPS)})")
        return value

    @model_validator(mode="after")
    def _valid_sets(self) -> Application:
        try:
            self.closed_sets()
        except ClosedSetError as exc:
            raise ValueError(str(exc)) from None
        return self

    def closed_sets(self) -> ClosedSets:
        return ClosedSets(intents=self.intents, error_classes=self.error_classes, models=self.models,
                          outcomes=self.outcomes, escalation_reasons=self.escalation_reasons)


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


# --- releases: versions side by side, the regression alert, canary analysis -------------------

_SHORT_DURATION = r"^[0-9]+(m|s)$"  # Flagger's pattern for intervals (and plain for Argo)


class Regression(_Model):
    """The version-regression alert: the newest version serving traffic against the versions before it.

    It fires for a version whose SLI error ratio over ``releases.window`` exceeds ``ratio`` times
    that of the other versions together *and* the SLO's error budget (so a clean baseline does not
    make one error a regression), once both sides served ``min_requests`` in the window.
    """

    enabled: bool = True
    min_requests: int = Field(100, ge=1, description="Requests each side must serve within the window.")
    ratio: float = Field(2.0, gt=1, description="How many times worse than the versions before it.")
    for_: DurationText = Field("5m", alias="for")
    severity: Literal["page", "ticket"] = "page"


class CanaryAnalysis(_Model):
    """Argo Rollouts ``AnalysisTemplate`` and Flagger ``MetricTemplate``/``Canary`` settings; the
    thresholds are the SLO objectives."""

    prometheus: str = Field("http://prometheus-operated.monitoring.svc:9090", pattern=r"^https?://")
    interval: str = Field("1m", pattern=_SHORT_DURATION, description="Between two measurements.")
    window: str = Field("5m", pattern=_SHORT_DURATION, description="Traffic each measurement looks at.")
    count: int = Field(10, ge=1, description="Measurements per analysis (Argo).")
    failure_limit: int = Field(1, ge=0, description="Failed measurements tolerated (Flagger: threshold - 1).")
    inconclusive_limit: int = Field(2, ge=0, description="Measurements without min_requests tolerated.")
    min_requests: int = Field(50, ge=1, description="Below this many requests in the window: inconclusive.")
    step_weight: int = Field(10, ge=1, le=100, description="Flagger: traffic step per interval (percent).")
    max_weight: int = Field(50, ge=1, le=100, description="Flagger: most traffic the canary gets (percent).")


class Releases(_Model):
    """How versions are compared: recording rules by version, the regression alert, canary analysis."""

    window: DurationText = Field("10m", description="Window of the by-version SLI recordings.")
    kpi_window: DurationText = Field("1h", description="Window of the by-version KPI recordings "
                                     "(conversations end far less often than requests arrive).")
    regression: Regression = Regression()
    canary: CanaryAnalysis = CanaryAnalysis()


class Conversations(_Model):
    """Conversation life cycle; ``idle_timeout`` goes to the agent as ``AGENT_IDLE_TIMEOUT_SECONDS``."""

    idle_timeout: DurationText = Field("30m", description="No activity this long: the conversation ends "
                                       "as timed_out, counted once across instances.")


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


def _iana(cls: type, value: str) -> str:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (allowed: an IANA name such as "
                         "Europe/Berlin or UTC)") from None
    return value


class BusinessHours(_Model):
    """A KEDA cron trigger: keep at least ``desired_replicas`` between ``start`` and ``end``."""

    timezone: str = Field(min_length=1, description="IANA name, e.g. Europe/Berlin.")
    start: str = Field(pattern=_CRON, description="5-field cron, e.g. '0 8 * * 1-5'.")
    end: str = Field(pattern=_CRON)
    desired_replicas: int = Field(ge=1)

    _timezone_ok = field_validator("timezone")(_iana)

    @field_validator("end")
    @classmethod
    def _differs(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("start"):
            raise ValueError("end must differ from start (allowed: another cron expression)")
        return value


def duration_seconds(text: str) -> float:
    """Seconds of a spec duration (the one parser, ``agentwatch.durations``), as a float."""
    return float(parse_duration(text))


def _plain_cron_number(field: str, name: str, high: int) -> int:
    if not field.isdigit() or int(field) > high:
        raise ValueError(f"the peak's {name} field is {field!r} (allowed: one number 0-{high}, so the "
                         "pre-warm can be moved earlier by the lead; write several peaks as several specs)")
    return int(field)


class Prewarm(_Model):
    """Raise the replica floor ahead of a known daily peak, by at least the measured cold start.

    The ``hpa`` overlay gets two CronJobs (with their RBAC) that patch the HPA's ``minReplicas``
    to ``min_replicas`` at ``peak - lead`` and back to ``autoscaling.min_replicas`` at
    ``peak + duration``; the ``keda`` overlay gets a ``cron`` trigger over the same window.
    """

    timezone: str = Field(min_length=1, description="IANA name, e.g. Europe/Berlin.")
    peak: str = Field(pattern=_CRON, description="5-field cron of when the peak starts, e.g. '0 9 * * 1-5'.")
    lead: DurationText = Field("10m", description="Start this long before the peak (whole minutes, >= the "
                               "measured cold start).")
    duration: DurationText = Field("2h", description="Keep the raised floor this long after the peak starts.")
    min_replicas: int = Field(ge=1, description="Replica floor during the pre-warm window.")
    kubectl_image: str = Field("registry.k8s.io/kubectl:v1.32.4", min_length=1,
                               description="Image whose entrypoint is kubectl (hpa overlay CronJobs).")

    _timezone_ok = field_validator("timezone")(_iana)

    @field_validator("peak")
    @classmethod
    def _peak_time_is_plain(cls, value: str) -> str:
        minute, hour = value.split()[:2]
        _plain_cron_number(minute, "minute", 59)
        _plain_cron_number(hour, "hour", 23)
        return value

    @field_validator("lead")
    @classmethod
    def _lead_covers_cold_start(cls, value: str) -> str:
        from agentwatch.autoscaling.coldstart import COLD_START_RESULT, measured_cold_start_s

        seconds = duration_seconds(value)
        if seconds % 60 or seconds < 60:
            raise ValueError(f"lead {value} is not a whole number of minutes (allowed: 1m or more in whole "
                             "minutes; cron starts on the minute)")
        cold = measured_cold_start_s()
        if cold is not None and seconds < cold:
            raise ValueError(f"lead {value} is shorter than the measured cold start {cold:.1f}s "
                             f"(bench/{COLD_START_RESULT}; allowed: a lead of at least that)")
        return value

    @field_validator("duration")
    @classmethod
    def _duration_minutes(cls, value: str) -> str:
        seconds = duration_seconds(value)
        if seconds % 60 or seconds < 60:
            raise ValueError(f"duration {value} is not a whole number of minutes (allowed: 1m or more)")
        return value

    @model_validator(mode="after")
    def _same_day(self) -> Prewarm:
        minute, hour = (int(f) for f in self.peak.split()[:2])
        peak = hour * 60 + minute
        start = peak - int(duration_seconds(self.lead)) // 60
        end = peak + int(duration_seconds(self.duration)) // 60
        if start < 0 or end >= 24 * 60:
            raise ValueError(f"the pre-warm window ({self.lead} before {hour:02d}:{minute:02d} to {self.duration} "
                             "after it) crosses midnight (allowed: a window within one day)")
        return self

    def _shifted(self, minutes: int) -> str:
        fields = self.peak.split()
        at = int(fields[1]) * 60 + int(fields[0]) + minutes
        return " ".join([str(at % 60), str(at // 60), *fields[2:]])

    @property
    def start_cron(self) -> str:
        """When the pre-warm starts: the peak moved earlier by ``lead``."""
        return self._shifted(-int(duration_seconds(self.lead)) // 60)

    @property
    def end_cron(self) -> str:
        """When the floor is restored: the peak moved later by ``duration``."""
        return self._shifted(int(duration_seconds(self.duration)) // 60)


class KedaSettings(_Model):
    """The KEDA ScaledObject of the ``keda`` overlay (the ``hpa`` overlay ignores this)."""

    server_address: str = Field("http://prometheus-operated.monitoring.svc:9090", pattern=r"^https?://")
    polling_interval: int = Field(15, ge=1, description="Seconds between trigger queries.")
    cooldown_period: int = Field(300, ge=0, description="Seconds (only for scaling to zero).")
    initial_cooldown_period: int = Field(0, ge=0)
    fallback_replicas: int = Field(2, ge=1, description="Replicas while Prometheus cannot be queried.")
    failure_threshold: int = Field(3, ge=1, description="Failed queries before the fallback applies.")
    business_hours: BusinessHours | None = None


class Probes(_Model):
    """HTTP paths the kubelet probes on the container port; ``null`` leaves that probe out.

    The startup probe holds the others off until the app is ready once (a model load), for at most
    ``startup_timeout_seconds``.
    """

    startup: str | None = Field("/startupz", pattern=r"^/")
    readiness: str | None = Field("/readyz", pattern=r"^/")
    liveness: str | None = Field("/healthz", pattern=r"^/")


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Autoscaling(_Model):
    """The Kubernetes side: workload, probes, resources, and the HPA or KEDA autoscaler.

    ``queue_length_target`` is the average number of requests waiting for inference per pod that
    the autoscaler aims at (the capacity dashboard draws it as the target line);
    ``inference_time_target`` the average seconds per forward pass per pod. Both, and the
    requests and limits, are derived from a measurement by ``agentwatch capacity`` /
    ``agentwatch recommend``; ``derived_from`` names that measurement's file, so a test can re-derive
    them.

    The container runs the reference agent (``agentwatch serve``, with its torch and offline-model
    settings and ``REDIS_URL`` from ``redis_secret``) unless ``command`` names your own; then only
    ``args``, ``env`` and, if you set ``redis_secret``, ``REDIS_URL`` are passed.
    """

    namespace: str = Field("agentwatch", pattern=_NAME, max_length=63)
    image: str = Field("ghcr.io/agentwatch/agentwatch:0.1.0", min_length=1)
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    command: tuple[str, ...] | None = Field(None, min_length=1, description="Your agent's command "
                                            "(default: the reference agent, agentwatch serve).")
    args: tuple[str, ...] = Field((), description="Arguments of your command (the reference agent's: "
                                                  "serve --host 0.0.0.0 --port <port>).")
    env: dict[str, str] = Field({}, description="Extra environment variables; they win over generated ones.")
    probes: Probes = Probes()
    port: int = Field(8080, ge=1, le=65535)
    min_replicas: int = Field(2, ge=1)
    max_replicas: int = Field(10, ge=1)
    queue_length_target: float = Field(8.0, gt=0)
    inference_time_target: float | None = Field(
        0.03, gt=0, description="Seconds per forward pass (a whole batch) per pod; None: queue length only.")
    inflight_target: float | None = Field(None, gt=0, description="Optional: requests in flight per pod.")
    derived_from: str | None = Field(None, min_length=1, description="The capacity run (JSON) the targets, "
                                     "requests and limits were derived from (agentwatch capacity).")
    scale_up: ScalingPolicy = ScalingPolicy(stabilization_window_seconds=15, percent=100, pods=4,
                                            period_seconds=15)
    scale_down: ScalingPolicy = ScalingPolicy(stabilization_window_seconds=300, percent=50, period_seconds=60,
                                              select_policy="Min")
    keda: KedaSettings = KedaSettings()
    prewarm: Prewarm | None = None
    requests: dict[ResourceName, str] = {"cpu": "1", "memory": "1Gi"}
    limits: dict[ResourceName, str] = {"memory": "2Gi"}
    torch_threads: int = Field(1, ge=1, description="AGENT_TORCH_THREADS: match the CPU request.")
    startup_timeout_seconds: int = Field(120, ge=5, description="Longest cold start (model load) allowed.")
    termination_grace_period_seconds: int = Field(30, ge=1)
    redis_secret: str | None = Field("agentwatch-redis", pattern=_NAME, description="Secret holding REDIS_URL "
                                     "(default: agentwatch-redis for the reference agent, none with a command).")
    redis_secret_key: str = Field("url", pattern=r"^[-._a-zA-Z0-9]+$")
    otlp_endpoint: str | None = Field(None, pattern=r"^https?://")
    scrape_interval: DurationText = "15s"
    smoothing_window: DurationText | None = Field(
        None, description="Window the adapter averages gauges and rates over (default: 4 scrape intervals; "
        "at least 2).")
    pdb_max_unavailable: int = Field(1, ge=1)
    monitor_labels: dict[str, str] = Field({}, description="Labels the Prometheus selects monitors and "
                                           "rules by, e.g. {release: kube-prometheus-stack}.")
    adapter_namespace: str = Field("monitoring", pattern=_NAME, max_length=63)
    adapter_config_map: str = Field("prometheus-adapter", pattern=_NAME)

    @model_validator(mode="before")
    @classmethod
    def _own_agent_needs_no_redis(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("command") is not None and "redis_secret" not in data:
            return {**data, "redis_secret": None}
        return data

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not _ENV_NAME.match(k)]
        if bad:
            raise ValueError(f"invalid environment variable name(s) {bad} (allowed: [A-Za-z_][A-Za-z0-9_]*)")
        return value

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_replicas")
        if low is not None and value < low:
            raise ValueError(f"max_replicas {value} is below min_replicas {low} "
                             "(allowed: max_replicas >= min_replicas)")
        return value

    @field_validator("smoothing_window")
    @classmethod
    def _window_holds_two_scrapes(cls, value: str | None, info: ValidationInfo) -> str | None:
        scrape = info.data.get("scrape_interval")
        if value is not None and scrape is not None and duration_seconds(value) < 2 * duration_seconds(scrape):
            raise ValueError(f"smoothing_window {value} holds fewer than 2 scrapes of {scrape} (allowed: at "
                             "least twice scrape_interval; rate() needs two samples)")
        return value

    @field_validator("prewarm")
    @classmethod
    def _prewarm_floor_in_range(cls, value: Prewarm | None, info: ValidationInfo) -> Prewarm | None:
        low, high = info.data.get("min_replicas"), info.data.get("max_replicas")
        if value is not None and low is not None and high is not None and not low < value.min_replicas <= high:
            raise ValueError(f"prewarm.min_replicas {value.min_replicas} is not above min_replicas {low} and at "
                             f"most max_replicas {high} (allowed: {low + 1}..{high})")
        return value

    @property
    def signal_window(self) -> str:
        """The adapter's smoothing window: ``smoothing_window`` or 4 scrape intervals."""
        if self.smoothing_window:
            return self.smoothing_window
        seconds = int(duration_seconds(self.scrape_interval) * 4)
        return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"

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
    application: Application | None = None
    slos: tuple[SLO, ...] = ()
    kpis: KPIs | None = None
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    dashboards: Dashboards = Dashboards()
    autoscaling: Autoscaling | None = None
    releases: Releases = Releases()
    conversations: Conversations = Conversations()
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

    @property
    def closed_sets(self) -> ClosedSets:
        """The application's declared label values; the reference agent's without ``application:``."""
        return self.application.closed_sets() if self.application else ClosedSets.reference()

    @property
    def metric_groups(self) -> frozenset[str]:
        """Metric groups the service emits; every group without ``application:`` (the reference agent)."""
        return frozenset(self.application.metrics if self.application else c.METRIC_GROUPS)

    def emits(self, metric: c.MetricDef) -> bool:
        return metric.group in self.metric_groups


def spec_issues(spec: Spec) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems only the whole spec shows (a field alone is valid), as ``(path, message)``.

    The loader and the importers report them like field errors, at the path's line.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[str, int] = {}
    for i, slo in enumerate(spec.slos):
        if slo.name in seen:
            problems.append((("slos", i, "name"),
                             f"duplicate SLO name {slo.name!r} (already used by slos[{seen[slo.name]}]; "
                             "allowed: a name not used by another SLO)"))
        seen.setdefault(slo.name, i)
    if spec.kpis is not None:
        problems += _kpi_issues(spec, spec.kpis)
    if spec.autoscaling is not None and not spec.emits(c.QUEUE_LENGTH):
        problems.append((("autoscaling",), f"the autoscalers scale on {c.QUEUE_LENGTH.name}, but "
                                           "application.metrics does not include queue (allowed: emit the queue "
                                           "group, e.g. with agentwatch.telemetry.Batcher, or drop autoscaling)"))
    return problems


def _kpi_issues(spec: Spec, kpis: KPIs) -> list[tuple[tuple[str | int, ...], str]]:
    """A declared KPI must read emitted metrics and declared values, or it could never fire."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    sets = spec.closed_sets
    declared = {"outcomes": sets.outcomes, "error_classes": tuple(sets.error_status)}
    for name, threshold in kpis.declared().items():
        metrics, needs = KPI_READS[name]
        missing = sorted({m.group for m in metrics if not spec.emits(m)})
        if missing:
            problems.append((("kpis", name), f"reads {', '.join(m.name for m in metrics)}, but application.metrics "
                                             f"does not include {', '.join(missing)} (allowed: a KPI on emitted "
                                             "metrics; add the group or remove the KPI)"))
        for field_name, values in needs.items():
            absent = [v for v in values if v not in declared[field_name]]
            if absent:
                problems.append((("kpis", name), f"reads {field_name} {absent}, which application.{field_name} "
                                                 f"does not declare (allowed: {', '.join(declared[field_name])})"))
        unknown = [v for v in threshold.classes if v not in sets.error_status]
        if unknown:
            problems.append((("kpis", name, "classes"), f"unknown error class(es) {unknown} "
                                                        f"(allowed: {', '.join(sets.error_status)})"))
    return problems
