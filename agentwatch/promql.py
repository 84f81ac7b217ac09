"""PromQL's one home: named query builders shared by rules, dashboards and autoscaler configs.

Metric names come from the catalogue; nothing here spells one. Builders return strings and take
a label-selector string (``'job="agent"'``) and a range (``"5m"``, ``"$__rate_interval"``), so the
same query serves a recording rule, a Grafana panel and a prometheus-adapter ``metricsQuery``.

Usage::

    from agentwatch import promql as q
    q.request_rate(q.selector(route="/v1/conversations/{conversation_id}/messages"), "5m")
"""

from __future__ import annotations

from collections.abc import Iterable

from agentwatch.telemetry import catalogue as c

__all__ = [
    "cpu_cores_per_pod",
    "error_ratio",
    "errors_ratio_by_class",
    "escalation_rate",
    "external",
    "first_contact_resolution_rate",
    "histogram_average",
    "histogram_buckets",
    "histogram_quantile",
    "increase",
    "join_selectors",
    "latency_good_ratio",
    "memory_bytes_per_pod",
    "queue_saturation",
    "rate",
    "ratio",
    "request_rate",
    "selector",
    "series",
    "sum_by",
]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(**matchers: str) -> str:
    """Equality matchers as a selector body: ``selector(job="agent")`` → ``job="agent"``.

    A value that starts with ``~`` becomes a regex matcher, ``!`` a negative one:
    ``selector(code="~5..")`` → ``code=~"5.."``.
    """
    parts = []
    for name, value in matchers.items():
        if value.startswith("~"):
            parts.append(f"{name}=~{_quote(value[1:])}")
        elif value.startswith("!~"):
            parts.append(f"{name}!~{_quote(value[2:])}")
        elif value.startswith("!"):
            parts.append(f"{name}!={_quote(value[1:])}")
        else:
            parts.append(f"{name}={_quote(value)}")
    return ",".join(parts)


def join_selectors(*selectors: str) -> str:
    """Join selector bodies, skipping empty ones."""
    return ",".join(s for s in selectors if s)


def series(name: str, sel: str = "") -> str:
    return f"{name}{{{sel}}}" if sel else name


def rate(name: str, sel: str, window: str) -> str:
    return f"rate({series(name, sel)}[{window}])"


def sum_by(expr: str, by: Iterable[str] = ()) -> str:
    labels = ", ".join(by)
    return f"sum by ({labels}) ({expr})" if labels else f"sum({expr})"


def ratio(numerator: str, denominator: str) -> str:
    """``numerator / denominator``, undefined (no sample) when the denominator is 0.

    Dividing by a zero rate yields NaN, which compares false but shows as a gap-free line in
    Grafana and can flap alerts; ``> 0`` filters it out so no sample is produced instead.
    """
    return f"({numerator})\n/\n({denominator} > 0)"


def request_rate(sel: str, window: str, by: Iterable[str] = ()) -> str:
    return sum_by(rate(c.REQUEST_DURATION.count, sel, window), by)


def error_ratio(sel: str, window: str, by: Iterable[str] = ()) -> str:
    """5xx responses / all responses (4xx are the client's fault and do not count)."""
    bad = join_selectors(sel, selector(code="~5.."))
    return ratio(request_rate(bad, window, by), request_rate(sel, window, by))


def latency_good_ratio(sel: str, window: str, threshold_le: str, by: Iterable[str] = ()) -> str:
    """Fraction of requests at most ``threshold_le`` seconds (must be a bucket bound, as text)."""
    good = sum_by(rate(c.REQUEST_DURATION.bucket, join_selectors(sel, selector(le=threshold_le)), window),
                  by)
    return ratio(good, request_rate(sel, window, by))


def histogram_quantile(quantile: float, metric: c.MetricDef, sel: str, window: str,
                       by: Iterable[str] = ()) -> str:
    """``histogram_quantile`` over ``rate(<metric>_bucket[window])`` summed by ``le`` (+ ``by``)."""
    return f"histogram_quantile({quantile}, {sum_by(rate(metric.bucket, sel, window), ('le', *by))})"


def escalation_rate(sel: str, window: str) -> str:
    """Escalated conversations / conversations ended, over ``window``."""
    escalated = sum_by(rate(c.CONVERSATIONS_ENDED.name, join_selectors(sel, selector(outcome="escalated")),
                            window))
    return ratio(escalated, sum_by(rate(c.CONVERSATIONS_ENDED.name, sel, window)))


def first_contact_resolution_rate(sel: str, window: str) -> str:
    """Conversations resolved without escalation / conversations ended, over ``window``."""
    resolved = sum_by(rate(c.CONVERSATIONS_ENDED.name, join_selectors(sel, selector(outcome="resolved")),
                           window))
    return ratio(resolved, sum_by(rate(c.CONVERSATIONS_ENDED.name, sel, window)))


# --- Dashboard builders (agentwatch.dashboards) ----------------------------------------------


def external(name: str) -> str:
    """An external series name (kube-state-metrics, cAdvisor, process_*), checked against the catalogue."""
    if name not in c.EXTERNAL_METRICS:
        raise KeyError(f"{name!r} is not in catalogue.EXTERNAL_METRICS; add it there first")
    return name


def increase(name: str, sel: str, window: str) -> str:
    return f"increase({series(name, sel)}[{window}])"


def histogram_average(metric: c.MetricDef, sel: str, window: str, by: Iterable[str] = ()) -> str:
    """Mean observation over ``window``: ``rate(<metric>_sum) / rate(<metric>_count)``."""
    by = tuple(by)
    return ratio(sum_by(rate(metric.sum, sel, window), by), sum_by(rate(metric.count, sel, window), by))


def histogram_buckets(metric: c.MetricDef, sel: str, window: str) -> str:
    """Observations per bucket over ``window``, by ``le`` (heatmaps and distributions)."""
    return sum_by(increase(metric.bucket, sel, window), ("le",))


def errors_ratio_by_class(sel: str, window: str) -> str:
    """Failed requests (any non-2xx) of each ``error_class`` / all requests."""
    errors = sum_by(rate(c.ERRORS.name, sel, window), ("error_class",))
    return f"({errors})\n/ on () group_left ()\n({request_rate(sel, window)} > 0)"


def queue_saturation(sel: str, by: Iterable[str] = ("instance",)) -> str:
    """Queue length / queue capacity: 1 means the next request is rejected as ``overloaded``."""
    by = tuple(by)
    return ratio(sum_by(series(c.QUEUE_LENGTH.name, sel), by), sum_by(series(c.QUEUE_CAPACITY.name, sel), by))


def _agent_pods(sel: str) -> str:
    return f"max by (namespace, pod) ({series(c.BUILD_INFO.name, sel)})"


def cpu_cores_per_pod(namespace_sel: str, sel: str, window: str) -> str:
    """CPU cores per agent pod from cAdvisor; without cAdvisor, per process from ``process_*``."""
    container = join_selectors(namespace_sel, selector(container="!", image="!"))
    cadvisor = sum_by(rate(external("container_cpu_usage_seconds_total"), container, window), ("namespace", "pod"))
    process = sum_by(rate(external("process_cpu_seconds_total"), sel, window), ("instance",))
    return f"({cadvisor}\n* on (namespace, pod) group_left ()\n{_agent_pods(sel)})\nor on ()\n{process}"


def memory_bytes_per_pod(namespace_sel: str, sel: str) -> str:
    """Working-set bytes per agent pod from cAdvisor; without cAdvisor, the process RSS."""
    container = join_selectors(namespace_sel, selector(container="!", image="!"))
    cadvisor = sum_by(series(external("container_memory_working_set_bytes"), container), ("namespace", "pod"))
    process = sum_by(series(external("process_resident_memory_bytes"), sel), ("instance",))
    return f"({cadvisor}\n* on (namespace, pod) group_left ()\n{_agent_pods(sel)})\nor on ()\n{process}"
