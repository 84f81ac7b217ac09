"""prometheus-adapter rules exposing the agent's per-pod signals to the HPA (custom metrics API).

``signals`` lists what the autoscalers follow: queue length per pod (always), average inference
time per pod (the ``_sum``/``_count`` rates of the inference histogram, when
``inference_time_target`` is set) and requests in flight (optional). Every signal is smoothed over
``Autoscaling.signal_window`` (4 scrape intervals unless set): one bursty scrape cannot move it.

``adapter_rules`` returns the adapter's discovery rules (``pkg/config/config.go`` of
kubernetes-sigs/prometheus-adapter); they ship in the two forms real installs read
(``helm_values``: the prometheus-community chart's ``rules.custom``; ``kube_prometheus_jsonnet``:
a kube-prometheus mixin adding to ``values.prometheusAdapter.config.rules``), never as a ConfigMap
that would replace the adapter's whole config. ``render_metrics_query`` renders a rule's
``metricsQuery`` the way the adapter does (``pkg/naming/metrics_query.go``), so tests, the lab
and ``hpa-sim --prometheus`` run the exact query the adapter would send.

Usage::

    rule = adapter_rules(spec)[0]
    render_metrics_query(rule, namespace="prod", pods=["agent-a", "agent-b"])
    # 'sum by (pod) (avg_over_time(agent_queue_length{namespace="prod",pod=~"agent-a|agent-b"}[1m]))'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agentwatch import promql as q
from agentwatch.k8s.workload import settings
from agentwatch.spec.model import Spec
from agentwatch.telemetry import catalogue as c

__all__ = [
    "INFERENCE_TIME_METRIC",
    "Signal",
    "adapter_config",
    "adapter_metric_kinds",
    "adapter_rules",
    "go_quote",
    "helm_values",
    "kube_prometheus_jsonnet",
    "render_metrics_query",
    "render_namespace_query",
    "render_template",
    "signals",
]

# The adapter's template fields, written with its `<<` `>>` delimiters.
SERIES, LABEL_MATCHERS, GROUP_BY = "<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"

#: The custom-metrics name of the mean forward-pass time per pod (from the histogram's _sum/_count).
INFERENCE_TIME_METRIC = f"{c.INFERENCE_DURATION.name}_mean"
#: Forward passes that serve requests (warm-up and the generator are other operations).
_SERVING_OPERATION = "classify"


@dataclass(frozen=True)
class Signal:
    """One per-pod autoscaling signal: its custom-metrics API name (= the adapter's ``name.as`` =
    the HPA's metric name), whether it is a count (spread over pods) or an average, its target per
    pod, and the series the adapter discovers it by."""

    name: str
    kind: Literal["count", "average"]
    target: float
    series: str

    @property
    def trigger_name(self) -> str:
        """The KEDA trigger's name (DNS-label style)."""
        return self.name.replace("_", "-")


def adapter_metric_kinds() -> dict[str, Literal["count", "average"]]:
    """Every name the generated adapter rules can expose, with its kind (spec-independent)."""
    return {c.QUEUE_LENGTH.name: "count", c.INFLIGHT_REQUESTS.name: "count", INFERENCE_TIME_METRIC: "average"}


def signals(spec: Spec) -> list[Signal]:
    """The signals the autoscalers follow, in the order the HPA lists them."""
    cfg = settings(spec)
    out = [Signal(c.QUEUE_LENGTH.name, "count", cfg.queue_length_target, c.QUEUE_LENGTH.name)]
    if cfg.inference_time_target is not None:
        out.append(Signal(INFERENCE_TIME_METRIC, "average", cfg.inference_time_target, c.INFERENCE_DURATION.count))
    if cfg.inflight_target is not None:
        out.append(Signal(c.INFLIGHT_REQUESTS.name, "count", cfg.inflight_target, c.INFLIGHT_REQUESTS.name))
    return out


def _metrics_query(spec: Spec, signal: Signal) -> str:
    """The per-pod query with the adapter's template fields."""
    window = settings(spec).signal_window
    extra = q.selector(**spec.service.selector)
    if signal.name == INFERENCE_TIME_METRIC:
        sel = q.join_selectors(LABEL_MATCHERS, extra, q.selector(operation=_SERVING_OPERATION))
        return q.histogram_mean_or_zero(c.INFERENCE_DURATION, sel, window, (GROUP_BY,))
    return q.sum_by(q.avg_over_time(SERIES, q.join_selectors(LABEL_MATCHERS, extra), window), (GROUP_BY,))


def adapter_rules(spec: Spec) -> list[dict[str, Any]]:
    """One discovery rule per signal."""
    extra = q.selector(**spec.service.selector)
    return [{
        "seriesQuery": q.series(s.series, q.join_selectors(q.selector(namespace="!", pod="!"), extra)),
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{re.escape(s.series)}$", "as": s.name},
        "metricsQuery": _metrics_query(spec, s),
    } for s in signals(spec)]


def adapter_config(spec: Spec) -> dict[str, Any]:
    """The rules as the adapter's ``config.yaml`` would hold them (``rules:`` only)."""
    return {"rules": adapter_rules(spec)}


def helm_values(spec: Spec) -> dict[str, Any]:
    """Values for the prometheus-community/prometheus-adapter chart: our rules in ``rules.custom``
    (the chart's default rules and resource rules stay as they are)."""
    return {"rules": {"custom": adapter_rules(spec)}}


def kube_prometheus_jsonnet(spec: Spec, header: str) -> str:
    """A kube-prometheus mixin adding our rules to ``values.prometheusAdapter.config.rules``.

    kube-prometheus renders the adapter's ``adapter-config`` ConfigMap from that jsonnet value;
    adding to it (``+``) keeps its resource rules and any rules another mixin added.
    """
    rules = json.dumps(adapter_rules(spec), indent=2)
    body = "\n".join("        " + line if i else line for i, line in enumerate(rules.splitlines()))
    return (f"{header}"
            "// kube-prometheus: add this mixin after custom-metrics.libsonnet (which registers the\n"
            "// custom.metrics.k8s.io APIService), e.g.\n"
            "//   local kp = (import 'kube-prometheus/main.libsonnet')\n"
            "//     + (import 'kube-prometheus/addons/custom-metrics.libsonnet')\n"
            "//     + (import 'agentwatch-adapter.libsonnet')\n"
            "//     + { values+:: { common+: { namespace: 'monitoring' } } };\n"
            "{\n  values+:: {\n    prometheusAdapter+: {\n      config+:: {\n"
            f"        rules+: {body},\n"
            "      },\n    },\n  },\n}\n")


def go_quote(value: str) -> str:
    """Go's ``%q`` for the label values the adapter quotes (names of Kubernetes objects)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}")
    return '"' + "".join(out) + '"'


def _label_for(rule: dict[str, Any], resource: str) -> str:
    overrides = rule["resources"]["overrides"]
    return next(label for label, target in overrides.items() if target["resource"] == resource)


def render_template(rule: dict[str, Any], label_matchers: str, group_by: str, series: str | None = None) -> str:
    """Fill a rule's ``metricsQuery`` template (``Series``, ``LabelMatchers``, ``GroupBy`` only)."""
    fields = {"Series": series or rule["seriesQuery"].split("{", 1)[0], "LabelMatchers": label_matchers,
              "GroupBy": group_by}

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fields:
            raise ValueError(f"template field {match.group(0)} is not supported here")
        return fields[name]

    rendered = re.sub(r"<<\s*\.(\w+)\s*>>", field, rule["metricsQuery"])
    if "<<" in rendered:
        raise ValueError(f"unsupported template action in {rule['metricsQuery']!r}")
    return rendered


def render_metrics_query(rule: dict[str, Any], namespace: str, pods: Sequence[str],
                         series: str | None = None) -> str:
    """The query the adapter sends for ``pods/<metric>`` of ``pods`` in ``namespace``.

    As ``metricsQuery.Build`` does: matchers are the namespace (``=``), then the pod label (``=``
    for one pod, ``=~`` with names joined by ``|`` for several); ``GroupBy`` is the pod label.
    """
    if not pods:
        raise ValueError("the adapter never builds a query for zero objects")
    pod_label = _label_for(rule, "pod")
    pod_matcher = (f"{pod_label}={go_quote(pods[0])}" if len(pods) == 1
                   else f"{pod_label}=~{go_quote('|'.join(pods))}")
    matchers = f"{_label_for(rule, 'namespace')}={go_quote(namespace)},{pod_matcher}"
    return render_template(rule, matchers, pod_label, series)


def render_namespace_query(rule: dict[str, Any], namespace: str) -> str:
    """The rule's per-pod query for every pod of ``namespace`` (no pod matcher): what KEDA sums."""
    return render_template(rule, f"{_label_for(rule, 'namespace')}={go_quote(namespace)}", _label_for(rule, "pod"))
