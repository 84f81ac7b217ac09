"""``agentwatch generate canary``: the SLOs as canary analysis for Argo Rollouts and Flagger.

The SLOs already say what "good" means; a progressive-delivery controller needs exactly that. For
every SLO with an availability or latency SLI, the share of good events the canary served over
``releases.canary.window`` must reach the SLO's objective; below ``min_requests`` requests in the
window a measurement returns no value, which both controllers treat as "not yet" (Argo:
inconclusive, Flagger: halt advancement), never as a pass.

Layout (paths relative to the repository root)::

    k8s/generated/canary/argo/analysistemplate.yaml        AnalysisTemplate, arg ``version``
    k8s/generated/canary/flagger/metrictemplate-<slo>.yaml  one MetricTemplate per SLO
    k8s/generated/canary/flagger/canary.yaml                a Canary with the ``analysis`` block

* Argo: the canary is told apart by its version (``AGENT_VERSION``, on ``agent_build_info``), which the
  Rollout passes as the ``version`` argument; the queries join it on, so no pod label or relabelling
  is needed. ``successCondition``/``failureCondition`` compare with the objective.
* Flagger: the canary is the target Deployment's pods (Flagger names the stable ones
  ``<target>-primary-*``), selected by ``namespace``/``pod`` as the Prometheus Operator labels them;
  ``thresholdRange.min`` is the objective.

The ``canary`` family of ``agentwatch.families``: pure, no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agentwatch import promql as q
from agentwatch.alerts.context import decimal_text
from agentwatch.alerts.release_rules import sli_events
from agentwatch.artefacts import dump_yaml
from agentwatch.k8s.workload import PORT_NAME, labels, settings
from agentwatch.spec import Spec
from agentwatch.spec.model import SLO
from agentwatch.telemetry import catalogue as c

__all__ = ["ARGO", "ARGO_VERSION_ARG", "CANARY_DIR", "FLAGGER", "FLAGGER_CANARY_POD", "analysis_template",
           "argo_query", "canary", "flagger_query", "metric_templates", "render"]

CANARY_DIR = "k8s/generated/canary"
ARGO = f"{CANARY_DIR}/argo"
FLAGGER = f"{CANARY_DIR}/flagger"
#: The AnalysisTemplate argument holding the canary's version (its ``AGENT_VERSION``).
ARGO_VERSION_ARG = "version"
#: Flagger's canary pods: the target Deployment's, not ``<target>-primary-*`` (Flagger's own pattern).
FLAGGER_CANARY_POD = "{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"


def _slos(spec: Spec) -> list[SLO]:
    return [slo for slo in spec.slos if slo.sli.availability or slo.sli.latency]


def _metric(slo: SLO) -> c.MetricDef:
    sli = slo.sli.availability or slo.sli.latency
    assert sli is not None
    return c.by_name(sli.metric)


def _good_ratio(spec: Spec, slo: SLO, sel: str, window: str, info_sel: str | None) -> str:
    bad, total = sli_events(slo, sel, window, info_sel)
    requests = q.requests_in_window(_metric(slo), sel, window, info_sel)
    return q.good_ratio_with_traffic(bad, total, requests, spec.releases.canary.min_requests)


def _sli_selector(spec: Spec, slo: SLO, **extra: str) -> str:
    sli = slo.sli.availability or slo.sli.latency
    assert sli is not None
    return q.selector(**{**spec.service.selector, **sli.matchers(), **extra})


def argo_query(spec: Spec, slo: SLO) -> str:
    """Good share of ``slo``'s events served by the processes of version ``{{args.version}}``."""
    info = q.join_selectors(q.selector(**spec.service.selector),
                            q.selector(version=f"{{{{args.{ARGO_VERSION_ARG}}}}}"))
    return _good_ratio(spec, slo, _sli_selector(spec, slo), spec.releases.canary.window, info)


def flagger_query(spec: Spec, slo: SLO) -> str:
    """Good share of ``slo``'s events served by Flagger's canary pods over ``{{ interval }}``."""
    sel = _sli_selector(spec, slo, namespace="{{ namespace }}", pod="~" + FLAGGER_CANARY_POD)
    return _good_ratio(spec, slo, sel, "{{ interval }}", None)


def _objective(slo: SLO) -> str:
    return decimal_text(slo.objective_ratio)


def _metadata(spec: Spec, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": settings(spec).namespace, "labels": labels(spec)}


def analysis_template(spec: Spec) -> dict[str, Any]:
    """Argo Rollouts ``AnalysisTemplate``: one Prometheus metric per SLO, thresholds = objectives."""
    cfg = spec.releases.canary
    metrics = []
    for slo in _slos(spec):
        objective = _objective(slo)
        metrics.append({
            "name": slo.name,
            "interval": cfg.interval,
            "count": cfg.count,
            "failureLimit": cfg.failure_limit,
            "inconclusiveLimit": cfg.inconclusive_limit,
            # No value (too little traffic) matches neither condition: inconclusive, not a pass.
            "successCondition": f"len(result) == 1 && result[0] >= {objective}",
            "failureCondition": f"len(result) == 1 && result[0] < {objective}",
            "provider": {"prometheus": {"address": cfg.prometheus, "query": argo_query(spec, slo)}},
        })
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": _metadata(spec, f"{spec.service.name}-slos"),
        "spec": {"args": [{"name": ARGO_VERSION_ARG}], "metrics": metrics},
    }


def _template_name(spec: Spec, slo: SLO) -> str:
    return f"{spec.service.name}-{slo.name}"


def metric_templates(spec: Spec) -> dict[str, dict[str, Any]]:
    """Flagger ``MetricTemplate`` per SLO, keyed by SLO name."""
    provider = {"type": "prometheus", "address": spec.releases.canary.prometheus}
    return {slo.name: {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                       "metadata": _metadata(spec, _template_name(spec, slo)),
                       "spec": {"provider": provider, "query": flagger_query(spec, slo)}}
            for slo in _slos(spec)}


def canary(spec: Spec) -> dict[str, Any]:
    """A Flagger ``Canary`` for the agent Deployment whose ``analysis`` checks every SLO."""
    cfg, k8s = spec.releases.canary, settings(spec)
    metrics = [{"name": slo.name,
                "templateRef": {"name": _template_name(spec, slo), "namespace": k8s.namespace},
                "thresholdRange": {"min": float(Decimal(_objective(slo)))},
                "interval": cfg.window}
               for slo in _slos(spec)]
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": _metadata(spec, spec.service.name),
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.service.name},
            # A new pod loads the model before it is ready.
            "progressDeadlineSeconds": k8s.startup_timeout_seconds + 60,
            "service": {"port": 80, "targetPort": PORT_NAME},
            "analysis": {
                "interval": cfg.interval,
                "threshold": cfg.failure_limit + 1,  # Flagger rolls back at this many failed checks
                "maxWeight": cfg.max_weight,
                "stepWeight": cfg.step_weight,
                "metrics": metrics,
            },
        },
    }


def render(spec: Spec) -> dict[str, str]:
    """Every canary-analysis artefact of ``spec``, keyed by path relative to the output root; nothing
    when no SLO has a request SLI (raw PromQL cannot be narrowed to the canary)."""
    if not _slos(spec):
        return {}
    files = {f"{ARGO}/analysistemplate.yaml": dump_yaml(analysis_template(spec)),
             f"{FLAGGER}/canary.yaml": dump_yaml(canary(spec))}
    for name, template in metric_templates(spec).items():
        files[f"{FLAGGER}/metrictemplate-{name}.yaml"] = dump_yaml(template)
    return dict(sorted(files.items()))
