"""Read an ``autoscaling/v2`` HorizontalPodAutoscaler from YAML into the controller's :class:`HPASpec`.

The file may hold many documents (a ``kubectl kustomize`` output, a Helm render); the first
``autoscaling/v2`` HorizontalPodAutoscaler is used and the others are ignored. The API server's
defaults are applied (``minReplicas`` 1, the default CPU metric, behavior rules filled in as
``SetDefaults_HorizontalPodAutoscalerBehavior`` does). A bad field is one
``FILE:LINE: field: message (allowed: ...)`` line, as the spec loader reports.

Usage::

    spec = load_hpa("k8s/generated/overlays/hpa/horizontalpodautoscaler.yaml")
    spec.metrics[0].name          # 'agent_queue_length'
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentwatch.autoscaling.hpa import (
    Behavior,
    HPASpec,
    MetricSpec,
    Policy,
    Rules,
    default_scale_down,
    default_scale_up,
)
from agentwatch.spec.loader import Issue, SpecError, format_path, line_map

__all__ = ["hpa_from_dict", "load_hpa", "milli_quantity", "parse_hpa_documents"]

_SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
           "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
           "P": Decimal("1e15"), "E": Decimal("1e18"), "Ki": Decimal(2**10), "Mi": Decimal(2**20),
           "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60)}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")


def milli_quantity(text: str | int | float) -> int:
    """A Kubernetes quantity in milli-units, rounded up as ``Quantity.MilliValue()`` does."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (allowed: e.g. '8', '500m', '1.5', '2k')")
    try:
        value = Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""] * 1000
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    return math.ceil(value)


class _M(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Policy(_M):
    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period_seconds: int = Field(alias="periodSeconds", gt=0, le=1800)


class _Rules(_M):
    stabilization_window_seconds: int | None = Field(None, alias="stabilizationWindowSeconds", ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] | None = Field(None, alias="selectPolicy")
    policies: list[_Policy] | None = None
    tolerance: str | float | None = None

    def rules(self, default: Rules) -> Rules:
        tolerance = None if self.tolerance is None else milli_quantity(self.tolerance) / 1000
        return Rules(
            tuple(Policy(p.type, p.value, p.period_seconds) for p in self.policies)
            if self.policies is not None else default.policies,
            self.select_policy or default.select_policy,
            self.stabilization_window_seconds if self.stabilization_window_seconds is not None
            else default.stabilization_window_seconds,
            tolerance if tolerance is not None else default.tolerance)


class _Behavior(_M):
    scale_up: _Rules | None = Field(None, alias="scaleUp")
    scale_down: _Rules | None = Field(None, alias="scaleDown")


class _Target(_M):
    type: Literal["AverageValue", "Utilization", "Value"]
    average_value: str | int | float | None = Field(None, alias="averageValue")
    average_utilization: int | None = Field(None, alias="averageUtilization", gt=0)
    value: str | int | float | None = None

    @field_validator("average_value", "value")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        if value is not None:
            milli_quantity(value)
        return value


class _MetricId(_M):
    name: str = Field(min_length=1)


class _PodsSource(_M):
    metric: _MetricId
    target: _Target


class _ResourceSource(_M):
    name: str = Field(min_length=1)
    target: _Target


class _Metric(_M):
    type: Literal["Pods", "Resource", "External"]
    pods: _PodsSource | None = None
    resource: _ResourceSource | None = None
    external: _PodsSource | None = None


class _Ref(_M):
    kind: str = "Deployment"
    name: str = ""


class _Spec(_M):
    scale_target_ref: _Ref = Field(alias="scaleTargetRef")
    min_replicas: int = Field(1, alias="minReplicas", ge=0)
    max_replicas: int = Field(alias="maxReplicas", ge=1)
    metrics: list[_Metric] | None = None
    behavior: _Behavior | None = None


class _Meta(_M):
    name: str = "hpa"
    namespace: str = "default"


class _HPA(_M):
    metadata: _Meta = _Meta()
    spec: _Spec


def _metric(m: _Metric, index: int) -> MetricSpec:
    where = ("spec", "metrics", index)
    if m.type == "Pods":
        if m.pods is None:
            raise _FieldError((*where, "pods"), "a Pods metric needs pods: {metric, target}")
        if m.pods.target.type != "AverageValue" or m.pods.target.average_value is None:
            raise _FieldError((*where, "pods", "target"), "a Pods metric target is type: AverageValue with "
                              "averageValue (allowed: AverageValue)")
        return MetricSpec("Pods", m.pods.metric.name, "AverageValue", milli_quantity(m.pods.target.average_value))
    if m.type == "Resource":
        if m.resource is None:
            raise _FieldError((*where, "resource"), "a Resource metric needs resource: {name, target}")
        t = m.resource.target
        if t.type == "Utilization" and t.average_utilization is not None:
            return MetricSpec("Resource", m.resource.name, "Utilization", t.average_utilization)
        if t.type == "AverageValue" and t.average_value is not None:
            return MetricSpec("Resource", m.resource.name, "AverageValue", milli_quantity(t.average_value))
        raise _FieldError((*where, "resource", "target"), "a Resource target is Utilization with "
                          "averageUtilization or AverageValue with averageValue")
    if m.external is None:
        raise _FieldError((*where, "external"), "an External metric needs external: {metric, target}")
    t = m.external.target
    if t.type == "AverageValue" and t.average_value is not None:
        return MetricSpec("External", m.external.metric.name, "AverageValue", milli_quantity(t.average_value))
    if t.type == "Value" and t.value is not None:
        return MetricSpec("External", m.external.metric.name, "Value", milli_quantity(t.value))
    raise _FieldError((*where, "external", "target"), "an External target is AverageValue with averageValue "
                      "or Value with value")


class _FieldError(Exception):
    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


def hpa_from_dict(obj: dict[str, Any], file: str = "<hpa>", lines: dict | None = None) -> HPASpec:
    """Validate one HPA object (already parsed YAML) and apply the API server's defaults."""
    lines = lines or {}

    def issue(path: tuple[str | int, ...], message: str) -> SpecError:
        line = next((lines[path[:end]] for end in range(len(path), -1, -1) if path[:end] in lines), 1)
        return SpecError([Issue(file, line, format_path(path), message)])

    try:
        hpa = _HPA.model_validate(obj)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            message = "required field is missing" if error["type"] == "missing" else \
                error["msg"].removeprefix("Value error, ")
            if error["type"] == "literal_error":
                message = f"invalid value {error.get('input')!r} (allowed: {error['ctx']['expected']})"
            problems.extend(issue(path, message).issues)
        raise SpecError(problems) from None
    spec = hpa.spec
    if spec.max_replicas < spec.min_replicas:
        raise issue(("spec", "maxReplicas"), f"maxReplicas {spec.max_replicas} is below minReplicas "
                    f"{spec.min_replicas} (allowed: maxReplicas >= minReplicas)")
    try:
        metrics = tuple(_metric(m, i) for i, m in enumerate(spec.metrics)) if spec.metrics else (
            MetricSpec("Resource", "cpu", "Utilization", 80),)  # the API server's default metric
        tolerance_rules = (spec.behavior.scale_up, spec.behavior.scale_down) if spec.behavior else (None, None)
        for direction, rules in zip(("scaleUp", "scaleDown"), tolerance_rules, strict=True):
            if rules is not None and rules.tolerance is not None:
                try:
                    milli_quantity(rules.tolerance)
                except ValueError as exc:
                    raise _FieldError(("spec", "behavior", direction, "tolerance"), str(exc)) from None
    except _FieldError as err:
        raise issue(err.path, err.message) from None
    behavior = None
    if spec.behavior is not None:
        up = spec.behavior.scale_up.rules(default_scale_up()) if spec.behavior.scale_up else default_scale_up()
        down = spec.behavior.scale_down.rules(default_scale_down()) if spec.behavior.scale_down \
            else default_scale_down()
        behavior = Behavior(up, down)
    return HPASpec(name=hpa.metadata.name, namespace=hpa.metadata.namespace, min_replicas=spec.min_replicas,
                   max_replicas=spec.max_replicas, metrics=metrics, behavior=behavior,
                   target_kind=spec.scale_target_ref.kind, target_name=spec.scale_target_ref.name)


def parse_hpa_documents(text: str, file: str) -> HPASpec:
    """The first ``autoscaling/v2`` HorizontalPodAutoscaler among the YAML documents of ``text``."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError([Issue(file, mark.line + 1 if mark else 1, "(root)",
                               f"YAML syntax error: {exc.problem}")]) from None
    kinds = []
    for node, doc in zip(nodes, docs, strict=True):
        if not isinstance(doc, dict):
            continue
        kinds.append(f"{doc.get('apiVersion')}/{doc.get('kind')}")
        if doc.get("kind") == "HorizontalPodAutoscaler" and doc.get("apiVersion") == "autoscaling/v2":
            return hpa_from_dict(doc, file, line_map(node))
    found = ", ".join(kinds) or "no objects"
    raise SpecError([Issue(file, 1, "(root)", f"no autoscaling/v2 HorizontalPodAutoscaler in the file "
                                             f"(found: {found})")])


def load_hpa(path: str | Path) -> HPASpec:
    """Read ``path`` and return its HPA (see :func:`parse_hpa_documents`)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError([Issue(str(path), 0, "(root)", f"cannot read the file: {exc.strerror}")]) from None
    return parse_hpa_documents(text, str(path))
