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
    "bad_request_rate",
    "cpu_cores_per_pod",
    "error_class_rate",
    "error_class_spike",
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
    "message_rate_per_pod",
    "model_not_loaded",
    "no_traffic",
    "or_zero_like",
    "queue_saturation",
    "queue_saturation_over",
    "rate",
    "rate_offset",
    "ratio",
    "request_rate",
    "selector",
    "series",
    "slow_request_rate",
    "state_store_error_rate",
    "sum_by",
    "sum_over_time",
    "window_query",
    "without",
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
    process = sum_by(rate(external(c.PROCESS_CPU_SECONDS), sel, window), ("instance",))
    return f"({cadvisor}\n* on (namespace, pod) group_left ()\n{_agent_pods(sel)})\nor on ()\n{process}"


def memory_bytes_per_pod(namespace_sel: str, sel: str) -> str:
    """Working-set bytes per agent pod from cAdvisor; without cAdvisor, the process RSS."""
    container = join_selectors(namespace_sel, selector(container="!", image="!"))
    cadvisor = sum_by(series(external("container_memory_working_set_bytes"), container), ("namespace", "pod"))
    process = sum_by(series(external(c.PROCESS_RESIDENT_MEMORY), sel), ("instance",))
    return f"({cadvisor}\n* on (namespace, pod) group_left ()\n{_agent_pods(sel)})\nor on ()\n{process}"


def message_rate_per_pod(route_sel: str, window: str) -> str:
    """Requests per second per agent (pod in Kubernetes, instance elsewhere) on the selected route."""
    return sum_by(rate(c.REQUEST_DURATION.count, route_sel, window), ("namespace", "pod", "instance"))


# --- SLO and KPI rule builders (agentwatch.alerts) -------------------------------------------


def window_query(template: str, window: str) -> str:
    """Fill a user query's Sloth-style ``{{.window}}`` placeholder with ``window``."""
    import re

    return re.sub(r"\{\{\s*\.window\s*\}\}", window, template)


def or_zero_like(expr: str, like: str) -> str:
    """``expr``, or 0 when ``expr`` has no series but ``like`` does.

    A counter that was never incremented (no 5xx yet) has no series; ``0 * like`` turns that into
    an explicit 0 while traffic exists, and into nothing when there is no traffic either.
    """
    return f"{expr}\nor\n0 * {like}"


def bad_request_rate(metric: c.MetricDef, sel: str, window: str, bad_codes: str = "5..") -> str:
    """Rate of requests whose status code matches ``bad_codes`` (0 while traffic has none)."""
    bad = sum_by(rate(metric.count, join_selectors(sel, selector(code="~" + bad_codes)), window))
    return or_zero_like(bad, sum_by(rate(metric.count, sel, window)))


def slow_request_rate(metric: c.MetricDef, sel: str, window: str, threshold_le: str) -> str:
    """Rate of requests slower than the ``threshold_le`` bucket bound: all minus those within it."""
    within = sum_by(rate(metric.bucket, join_selectors(sel, selector(le=threshold_le)), window))
    return f"{sum_by(rate(metric.count, sel, window))}\n-\n{within}"


def rate_offset(name: str, sel: str, window: str, offset: str = "") -> str:
    """``rate(name{sel}[window] offset <offset>)``; no offset when ``offset`` is empty."""
    return f"rate({series(name, sel)}[{window}]{' offset ' + offset if offset else ''})"


def sum_over_time(name: str, sel: str, window: str) -> str:
    return f"sum_over_time({series(name, sel)}[{window}])"


def without(labels: Iterable[str], expr: str) -> str:
    """``max without (labels) (expr)``: drop labels from series that are unique without them."""
    return f"max without ({', '.join(labels)}) ({expr})"


def error_class_rate(sel: str, window: str, classes: Iterable[str] = (), offset: str = "") -> str:
    """Errors per second by ``error_class`` (optionally only ``classes``, optionally ``offset`` ago)."""
    classes = tuple(classes)
    matchers = join_selectors(sel, selector(error_class="~" + "|".join(classes)) if classes else "")
    return sum_by(rate_offset(c.ERRORS.name, matchers, window, offset), ("error_class",))


def error_class_spike(sel: str, window: str, classes: Iterable[str], above: float, factor: float,
                      baseline: str) -> str:
    """Error classes above ``above``/s that also grew ``factor`` times over their ``baseline`` average.

    A class with no errors in the baseline (new failure mode) counts as a spike.
    """
    classes = tuple(classes)
    now = error_class_rate(sel, window, classes)
    before = error_class_rate(sel, baseline, classes, offset=window)
    return (f"{now} > {above:g}\nand\n(\n  {now} > {factor:g} * {before}\n  or\n"
            f"  {now} unless {before}\n)")


def state_store_error_rate(sel: str, window: str) -> str:
    """Requests per second failed because the conversation-state store was unavailable."""
    return sum_by(rate(c.ERRORS.name, join_selectors(sel, selector(error_class="state_store_unavailable")),
                       window))


def queue_saturation_over(sel: str, window: str, by: Iterable[str] = ("instance",)) -> str:
    """Average queue length over ``window`` / queue capacity, per instance."""
    by = tuple(by)
    length = sum_by(f"avg_over_time({series(c.QUEUE_LENGTH.name, sel)}[{window}])", by)
    return ratio(length, sum_by(series(c.QUEUE_CAPACITY.name, sel), by))


def model_not_loaded(sel: str) -> str:
    """Instances whose model is not loaded (``agent_model_loaded`` below 1)."""
    return f"{sum_by(series(c.MODEL_LOADED.name, sel), ('instance', 'model'))} < 1"


def no_traffic(sel: str, window: str, below: float, baseline_offset: str) -> str:
    """Request rate below ``below`` now, while it was at least that ``baseline_offset`` ago."""
    now = f"({request_rate(sel, window)} or vector(0))"
    before = sum_by(rate_offset(c.REQUEST_DURATION.count, sel, window, baseline_offset))
    return f"{now} < {below:g}\nand on ()\n{before} >= {below:g}"
