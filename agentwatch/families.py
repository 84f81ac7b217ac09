"""The artefact families: every generator agentwatch has, in build order, behind one contract.

A family is a pure function of the validated spec, ``render(spec) -> {relative path: body}``: no
files, environment or clock. ``render_all`` runs the chosen families, checks that no two write the
same path, and stamps every YAML file with the one DO-NOT-EDIT header (``agentwatch.artefacts``).

=============  ==============================  ==================================================
family         generator (package)              writes under
=============  ==============================  ==================================================
rules          ``agentwatch.alerts``            ``alerts/generated/`` (+ ``tests/``)
dashboards     ``agentwatch.dashboards``        ``dashboards/generated/``
k8s            ``agentwatch.k8s``               ``k8s/generated/`` (base, overlays)
canary         ``agentwatch.k8s.canary``        ``k8s/generated/canary/``
compose        ``agentwatch.compose``           ``compose/generated/``
collector      ``agentwatch.otel_collector``    ``otel-collector/generated/``
=============  ==============================  ==================================================

Generators are imported only when a family runs, so ``agentwatch generate rules`` works without
the ``dashboards`` extra, and a family whose extra is missing fails with one line naming it.

Usage::

    from agentwatch.families import FAMILIES, render_all
    files = render_all(load_spec("agentwatch.yaml"))             # every family
    files = render_all(spec, ["rules", "k8s"])                   # some
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agentwatch.artefacts import stamp
from agentwatch.spec.model import Spec

__all__ = ["FAMILIES", "Family", "MissingExtra", "UnknownFamily", "render_all", "select"]

Rendered = dict[str, str]


class MissingExtra(RuntimeError):
    """A family needs an optional dependency that is not installed."""


class UnknownFamily(ValueError):
    """A family name that is not in the registry."""


@dataclass(frozen=True)
class Family:
    """One artefact family: a name, what it writes, and where its pure ``render`` lives."""

    name: str
    description: str
    module: str
    function: str = "render"
    #: The pip extra whose packages the generator imports (``agentwatch[<extra>]``).
    extra: str | None = None

    def renderer(self) -> Callable[[Spec], Rendered]:
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            if self.extra is None or exc.name is None or exc.name.startswith("agentwatch"):
                raise
            raise MissingExtra(f"`{self.name}` needs the {exc.name} package: pip install "
                               f"'agentwatch[{self.extra}]'") from None
        return getattr(module, self.function)

    def render(self, spec: Spec) -> Rendered:
        return self.renderer()(spec)


#: Build order: later families may embed earlier ones' output (k8s ships the rules' PrometheusRule).
FAMILIES: tuple[Family, ...] = (
    Family("rules", "Prometheus recording, SLO burn-rate and KPI rules, promtool tests, Alertmanager config",
           "agentwatch.alerts"),
    Family("dashboards", "Grafana dashboards (provisioning and import forms) and provisioning YAML",
           "agentwatch.dashboards.export", extra="dashboards"),
    Family("k8s", "kustomize base and the hpa / keda overlays", "agentwatch.k8s"),
    Family("canary", "canary analysis from the SLOs: Argo Rollouts AnalysisTemplate, Flagger MetricTemplates "
           "and Canary", "agentwatch.k8s.canary"),
    Family("compose", "the docker compose stack's Alertmanager config", "agentwatch.compose"),
    Family("collector", "the OpenTelemetry Collector config", "agentwatch.otel_collector"),
)


def select(names: Iterable[str] = ()) -> tuple[Family, ...]:
    """The named families in build order (all of them for no names or ``all``)."""
    wanted = [n for n in names if n != "all"]
    known = {f.name: f for f in FAMILIES}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UnknownFamily(f"unknown family {', '.join(unknown)} (allowed: all, {', '.join(known)})")
    return tuple(f for f in FAMILIES if not wanted or f.name in wanted)


def render_all(spec: Spec, names: Iterable[str] = ()) -> Rendered:
    """The whole build (or the named families) as ``{relative path: stamped text}``. Pure."""
    files: Rendered = {}
    owner: dict[str, str] = {}
    for family in select(names):
        for path, text in family.render(spec).items():
            if path in owner:
                raise RuntimeError(f"{path} is written by both {owner[path]} and {family.name}")
            owner[path] = family.name
            files[path] = text
    return stamp(files, spec.source)
