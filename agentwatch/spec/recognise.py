"""Recognise foreign event queries that are really agentwatch's native availability/latency SLIs.

An imported ``sum(rate(agent_request_duration_seconds_count{route="/x"}[w]))`` total with a
``code=~"5.."`` error query is the native availability SLI, so it becomes one (with its typed
checks and promtool tests) instead of opaque raw PromQL. Anything else stays raw.
"""

from __future__ import annotations

from typing import Any

import promql_parser as pp

from agentwatch import promql as q
from agentwatch.spec.model import TARGET_LABELS
from agentwatch.telemetry import catalogue as c

__all__ = ["native_sli"]

_Matchers = dict[str, tuple[str, str]]  # label → (op, value)
_PLAIN = {"route", "method", *TARGET_LABELS}


def _sum_rate(node: Any) -> tuple[str, _Matchers] | None:
    """``sum(rate(<name>{matchers}[w]))`` → (name, matchers); anything else → None."""
    if not isinstance(node, pp.AggregateExpr) or str(node.op) != "sum" or node.modifier is not None:
        return None
    call = node.expr
    if not isinstance(call, pp.Call) or call.func.name != "rate" or len(call.args) != 1:
        return None
    matrix = call.args[0]
    if not isinstance(matrix, pp.MatrixSelector):
        return None
    vs = matrix.vector_selector
    if vs.offset is not None or vs.at is not None or vs.matchers.or_matchers:
        return None
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!="}
    matchers: _Matchers = {}
    for m in vs.matchers.matchers:
        op = ops.get(str(m.op), "=~" if str(m.op).startswith("MatchOp.Re") else "!~")
        matchers[m.name] = (op, m.value)
    return vs.name, matchers


def _parse(query: str) -> Any:
    try:
        return pp.parse(q.window_query(query, "5m"))
    except Exception:  # promql-parser raises plain exceptions on bad syntax
        return None


def native_sli(error_query: str, total_query: str) -> dict | None:
    """The native SLI (as spec data) equivalent to an error/total query pair, or ``None``."""
    metric = c.REQUEST_DURATION
    total = _sum_rate(_parse(total_query))
    if total is None or total[0] != metric.count:
        return None
    base = total[1]
    if any(op != "=" or name not in _PLAIN for name, (op, _) in base.items()):
        return None
    plain = {name: value for name, (_, value) in base.items()}
    route = plain.pop("route", None)
    common = {**({"route": route} if route else {}), **({"selector": plain} if plain else {})}
    error = _parse(error_query)
    bad = _sum_rate(error)
    if bad is not None and bad[0] == metric.count:
        extra = {k: v for k, v in bad[1].items() if k not in base or base[k] != v}
        if set(extra) == {"code"} and extra["code"][0] == "=~" and len(bad[1]) == len(base) + 1:
            codes = extra["code"][1]
            return {"availability": {**common, **({"bad_codes": codes} if codes != "5.." else {})}}
        return None
    if isinstance(error, pp.BinaryExpr) and str(error.op) == "-" and error.modifier is None:
        lhs, rhs = _sum_rate(error.lhs), _sum_rate(error.rhs)
        if lhs == total and rhs is not None and rhs[0] == metric.bucket:
            extra = {k: v for k, v in rhs[1].items() if k not in base}
            if set(extra) == {"le"} and extra["le"][0] == "=" and len(rhs[1]) == len(base) + 1:
                try:
                    return {"latency": {**common, "threshold": float(extra["le"][1])}}
                except ValueError:
                    return None
    return None
