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
    "TARGET",
    "avg_over_time",
    "bad_request_rate",
    "build_info",
    "count_over_time",
    "cpu_cores_by_pod",
    "cpu_cores_per_pod",
    "error_class_rate",
    "error_class_spike",
    "error_ratio",
    "error_ratio_by_version",
    "errors_ratio_by_class",
    "escalation_rate",
    "evaluations",
    "external",
    "first_contact_resolution_rate",
    "good_ratio_with_traffic",
    "histogram_average",
    "histogram_buckets",
    "histogram_mean_or_zero",
    "histogram_quantile",
    "increase",
    "instances_by_version",
    "join_selectors",
    "latency_good_ratio",
    "mean_over",
    "memory_bytes_per_pod",
    "message_rate_per_pod",
    "model_not_loaded",
    "newest_version",
    "no_traffic",
    "or_zero_like",
    "others",
    "outcome_ratio_by_version",
    "quantile_by_version",
    "quantile_floor",
    "queue_saturation",
    "queue_saturation_over",
    "rate",
    "rate_by_version",
    "rate_offset",
    "ratio",
    "request_rate",
    "requests_in_window",
    "running_versions",
    "selector",
    "series",
    "sli_events",
    "slow_request_rate",
    "slower_than",
    "start_time_by_version",
    "state_store_error_rate",
    "sum_by",
    "sum_over_time",
    "version_appeared",
    "version_regression",
    "window_query",
    "with_version",
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
    """5xx responses / all responses (4xx are the client's fault and do not count).

    0 (not "no data") while there is traffic but no 5xx: a 5xx series exists only once one happened.
    """
    bad = join_selectors(sel, selector(code="~5.."))
    total = request_rate(sel, window, by)
    return ratio(or_zero_like(request_rate(bad, window, by), total), total)


def latency_good_ratio(sel: str, window: str, threshold_le: str, by: Iterable[str] = ()) -> str:
    """Fraction of requests at most ``threshold_le`` seconds (must be a bucket bound, as text)."""
    good = sum_by(rate(c.REQUEST_DURATION.bucket, join_selectors(sel, selector(le=threshold_le)), window),
                  by)
    return ratio(good, request_rate(sel, window, by))


def histogram_quantile(quantile: float, metric: c.MetricDef, sel: str, window: str,
                       by: Iterable[str] = ()) -> str:
    """``histogram_quantile`` over ``rate(<metric>_bucket[window])`` summed by ``le`` (+ ``by``).

    A metric with a catalogue ``minimum`` (counts: batch size, turns) is floored at it: Prometheus
    interpolates the first bucket from 0, which reads 0.9 for a p90 of batches that are all 1.
    """
    expr = f"histogram_quantile({quantile}, {sum_by(rate(metric.bucket, sel, window), ('le', *by))})"
    return quantile_floor(expr, metric)


def quantile_floor(expr: str, metric: c.MetricDef) -> str:
    """``expr`` (a quantile of ``metric``) no lower than the smallest value ``metric`` can observe."""
    return f"clamp_min({expr}, {metric.minimum:g})" if metric.minimum is not None else expr


def escalation_rate(sel: str, window: str) -> str:
    """Escalated conversations / conversations ended, over ``window``."""
    escalated = sum_by(rate(c.CONVERSATIONS_ENDED.name, join_selectors(sel, selector(outcome=c.ESCALATED)),
                            window))
    return ratio(escalated, sum_by(rate(c.CONVERSATIONS_ENDED.name, sel, window)))


def first_contact_resolution_rate(sel: str, window: str) -> str:
    """Conversations resolved without escalation / conversations ended, over ``window``."""
    resolved = sum_by(rate(c.CONVERSATIONS_ENDED.name, join_selectors(sel, selector(outcome=c.RESOLVED)),
                           window))
    return ratio(resolved, sum_by(rate(c.CONVERSATIONS_ENDED.name, sel, window)))


# --- Versions: joins that carry agent_build_info's version onto any per-process series ----------

#: Labels one scrape target (one process) is identified by on both sides of a version join.
TARGET = ("job", "instance")


def build_info(sel: str = "") -> str:
    return series(c.BUILD_INFO.name, sel)


def with_version(expr: str, info_sel: str = "") -> str:
    """``expr`` (per-process series) with the ``version`` of its process; ``info_sel`` narrows the
    processes (e.g. ``version="1.2.0"``): the version is never a label on every series."""
    return f"{expr}\n* on ({', '.join(TARGET)}) group_left (version)\n{build_info(info_sel)}"


def rate_by_version(name: str, sel: str, window: str, info_sel: str = "", by: Iterable[str] = ()) -> str:
    """``sum by (version, ...) (rate(name{sel}[window]) joined with the version)``."""
    return sum_by(with_version(rate(name, sel, window), info_sel), ("version", *by))


def running_versions(sel: str = "") -> str:
    """How many distinct versions run (one ``agent_build_info`` series per process)."""
    return f"count(count by (version) ({build_info(sel)}))"


def instances_by_version(sel: str = "") -> str:
    return f"count by (version) ({build_info(sel)})"


def error_ratio_by_version(sel: str, window: str, info_sel: str = "", bad_codes: str = "5..") -> str:
    """5xx / all requests per version (0 while a version serves traffic without errors)."""
    total = rate_by_version(c.REQUEST_DURATION.count, sel, window, info_sel)
    bad = rate_by_version(c.REQUEST_DURATION.count, join_selectors(sel, selector(code="~" + bad_codes)), window,
                          info_sel)
    return ratio(or_zero_like(bad, total), total)


def quantile_by_version(quantile: float, metric: c.MetricDef, sel: str, window: str, info_sel: str = "") -> str:
    """A latency quantile per version: buckets summed by ``le`` and ``version`` after the join."""
    buckets = sum_by(with_version(rate(metric.bucket, sel, window), info_sel), ("version", "le"))
    return quantile_floor(f"histogram_quantile({quantile}, {buckets})", metric)


def outcome_ratio_by_version(outcome: str, sel: str, window: str, info_sel: str = "") -> str:
    """Conversations ended with ``outcome`` / all ended, per version (escalation rate: ``escalated``;
    first-contact resolution: ``resolved``)."""
    part = rate_by_version(c.CONVERSATIONS_ENDED.name, join_selectors(sel, selector(outcome=outcome)), window,
                           info_sel)
    return ratio(part, rate_by_version(c.CONVERSATIONS_ENDED.name, sel, window, info_sel))


def start_time_by_version(sel: str = "") -> str:
    """Start time of each version's oldest running process: the newest version started last."""
    return f"min by (version) (\n{with_version(series(external('process_start_time_seconds'), sel), sel)}\n)"


def version_appeared(sel: str, lookback: str) -> str:
    """1 at the first ``lookback``-long step a version is running (Grafana annotations)."""
    return (f"{instances_by_version(sel)}\nunless\n"
            f"count by (version) ({build_info(sel)} offset {lookback})")


def sli_events(metric: c.MetricDef, sel: str, window: str, *, bad_codes: str | None = None,
               good_le: str | None = None, info_sel: str | None = None) -> tuple[str, str]:
    """(bad events/s, all events/s) of an availability SLI (``bad_codes``) or a latency SLI (requests
    above the ``good_le`` bucket); with ``info_sel``, by ``version`` of the processes it selects.

    Bad is 0 (not absent) while there are events but none is bad.
    """
    def events(name: str, matchers: str) -> str:
        if info_sel is None:
            return sum_by(rate(name, matchers, window))
        return rate_by_version(name, matchers, window, info_sel)

    total = events(metric.count, sel)
    if bad_codes is not None:
        return or_zero_like(events(metric.count, join_selectors(sel, selector(code="~" + bad_codes))), total), total
    if good_le is None:
        raise ValueError("give bad_codes (availability) or good_le (latency)")
    return f"{total}\n-\n{events(metric.bucket, join_selectors(sel, selector(le=good_le)))}", total


def good_ratio_with_traffic(bad: str, total: str, requests: str, minimum: int) -> str:
    """``1 - bad / total`` (the share of good events), only when ``requests`` reach ``minimum``:
    too little traffic returns nothing, which a canary analysis reads as inconclusive."""
    return f"1 - (\n{ratio(bad, total)}\n)\nand on ()\n{requests} >= {minimum}"


def requests_in_window(metric: c.MetricDef, sel: str, window: str, info_sel: str | None = None) -> str:
    """Requests counted over ``window`` (optionally of the processes ``info_sel`` selects)."""
    counted = increase(metric.count, sel, window)
    return sum_by(counted if info_sel is None else with_version(counted, info_sel))


def newest_version(start_times: str, traffic: str) -> str:
    """Of ``start_times`` (per version), the version that started last among those whose ``traffic``
    is above 0."""
    return f"{start_times}\n== on () group_left ()\nmax({start_times} and on (version) {traffic} > 0)"


def version_regression(ratio_: str, bad: str, total: str, match: Iterable[str], *, factor: float, floor: str,
                       window_seconds: str, min_requests: int, newest: str) -> str:
    """Versions whose error ``ratio_`` exceeds ``factor`` x that of every other version together and
    ``floor``, with ``min_requests`` on each side within the window, restricted to ``newest``.

    ``bad``/``total`` are per-version event rates with the ``match`` labels; the value is the
    version's own ratio.
    """
    match = tuple(match)
    return (f"(\n{ratio_}\n> {factor:g} * {ratio(others(bad, match), others(total, match))}\n)\n"
            f"and\n{ratio_} > {floor}\n"
            f"and on (version)\n{total} * {window_seconds} >= {min_requests}\n"
            f"and on (version)\n{others(total, match)} * {window_seconds} >= {min_requests}\n"
            f"and on (version)\n({newest})")


def others(expr: str, match: Iterable[str]) -> str:
    """Per ``version``, the sum of ``expr`` over every *other* version (same ``match`` labels)."""
    on = ", ".join(match)
    return f"(\n{sum_by(expr, match)}\n- on ({on}) group_right ()\n{expr}\n)"


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


def histogram_mean_or_zero(metric: c.MetricDef, sel: str, window: str, by: Iterable[str]) -> str:
    """Mean observation over ``window`` per ``by`` group, and 0 for a group that observed nothing.

    An autoscaler needs a value for every pod: a pod that served nothing is not slow, and a pod
    with no value at all would make the HPA's metric invalid (which blocks every scale-down).
    """
    by = tuple(by)
    return or_zero_like(histogram_average(metric, sel, window, by), sum_by(rate(metric.count, sel, window), by))


def avg_over_time(name: str, sel: str, window: str) -> str:
    """``avg_over_time(name{sel}[window])``: a gauge smoothed over the samples of ``window``."""
    return f"avg_over_time({series(name, sel)}[{window}])"


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


def cpu_cores_by_pod(sel: str, window: str) -> str:
    """CPU cores each pod's process used over ``window`` (``process_cpu_seconds_total``), by ``pod``:
    what metrics-server would report for a one-process container."""
    return sum_by(rate(external("process_cpu_seconds_total"), sel, window), ("pod",))


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
    return slower_than(metric.count, metric.bucket, sel, window, threshold_le)


def slower_than(count: str, bucket: str, sel: str, window: str, threshold_le: str) -> str:
    """Observations per second above bucket ``threshold_le`` of any histogram, by its series names."""
    within = sum_by(rate(bucket, join_selectors(sel, selector(le=threshold_le)), window))
    return f"{sum_by(rate(count, sel, window))}\n-\n{within}"


def mean_over(expr: str, window: str) -> str:
    """The mean of ``expr`` over ``window`` (a subquery), averaged over its series: one series out."""
    return f"avg(avg_over_time(({expr})[{window}:]))"


def evaluations(expr: str, window: str) -> str:
    """How many evaluations of ``expr`` returned a sample over ``window`` (a subquery), summed."""
    return f"sum(count_over_time(({expr})[{window}:]))"


def rate_offset(name: str, sel: str, window: str, offset: str = "") -> str:
    """``rate(name{sel}[window] offset <offset>)``; no offset when ``offset`` is empty."""
    return f"rate({series(name, sel)}[{window}]{' offset ' + offset if offset else ''})"


def sum_over_time(name: str, sel: str, window: str) -> str:
    return f"sum_over_time({series(name, sel)}[{window}])"


def count_over_time(name: str, sel: str, window: str) -> str:
    return f"count_over_time({series(name, sel)}[{window}])"


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
    return sum_by(rate(c.ERRORS.name, join_selectors(sel, selector(error_class=c.STATE_STORE_UNAVAILABLE)),
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
