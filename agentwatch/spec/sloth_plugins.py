"""Sloth's common SLI plugins as agentwatch events SLIs (bad and total queries).

A Sloth SLI plugin (github.com/slok/sloth-common-sli-plugins) is Go code that turns ``options`` into
one error-ratio query. The common ones all divide bad by total events of one counter or histogram,
so the importer rebuilds them as *events* — the same metric, matchers and options — which keeps the
period ratio traffic-weighted instead of averaging a ratio:

* ``slok-go-http-metrics/availability`` — bad: ``code=~"(5..|429)"``; options: filter (required);
* ``slok-go-http-metrics/latency`` — bad: slower than ``le=bucket``; filter (required), bucket,
  exclude_errors;
* ``kubernetes/apiserver/availability`` — bad: ``code=~"(5..|429)"``; filter;
* ``kubernetes/apiserver/latency`` — bad: slower than ``le=bucket``, WATCH left out; filter, bucket;
* ``kubernetes/nginx-ingress/availability`` — bad: ``status=~"(5..|429)"``; filter;
* ``istio/v1/availability`` — bad: ``response_code=~"(5..|429)"``; service, namespace, filter;
* ``istio/v1/latency`` — bad: slower than ``le=bucket``; service, namespace, filter, bucket, exclude_errors;
* ``traefik/v2/availability`` — bad: ``code=~"(5..)"``; service_name_regex, filter;
* ``coredns/availability`` — bad: ``rcode=~custom_rcode_regex`` (default SERVFAIL); filter, custom_rcode_regex;
* ``prometheus/targets/availability`` — bad: rule evaluations with ``up == 0``; filter.

Ids are ``sloth-common/`` + the name. The metric names are the plugins' own (those exporters'
metrics, not agentwatch's catalogue). Any other plugin id, a missing required option or a malformed
one is a :class:`PluginError` whose message the importer reports, in one line, with the SLO it skipped.

Usage::

    bad, total = plugin_events("sloth-common/kubernetes/apiserver/availability", {"filter": 'job="api"'})
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import promql_parser as pp

from agentwatch import promql as q

__all__ = ["PLUGINS", "PluginError", "plugin_events"]

#: Sloth's placeholder, kept in the converted queries (each window replaces it).
WINDOW = "{{.window}}"
_PREFIX = "sloth-common/"
_SERVER_ERRORS = "(5..|429)"


class PluginError(ValueError):
    """A plugin SLI that cannot be converted; the message says why in one line."""


@dataclass(frozen=True)
class _Counter:
    """Availability over one counter: bad events carry ``bad_label`` matching ``bad_regex``.

    ``regex_option`` names the option that replaces ``bad_regex`` (coredns' ``custom_rcode_regex``).
    """

    counter: str
    bad_label: str
    bad_regex: str
    required: tuple[str, ...] = ()
    regex_option: str | None = None

    def events(self, sel: str, options: Mapping[str, str]) -> tuple[str, str]:
        regex = self.bad_regex
        if self.regex_option and options.get(self.regex_option, "").strip():
            regex = _regex(options[self.regex_option].strip(), self.regex_option)
        bad = q.join_selectors(sel, q.selector(**{self.bad_label: "~" + regex}))
        total = q.sum_by(q.rate(self.counter, sel, WINDOW))
        # No bad series yet (no 5xx so far) is 0 while there is traffic, not "no data".
        return q.or_zero_like(q.sum_by(q.rate(self.counter, bad, WINDOW)), total), total


@dataclass(frozen=True)
class _Histogram:
    """Latency over one histogram: bad events are those slower than the ``bucket`` option.

    ``exclude_errors: true`` leaves 5xx (label ``errors_label``) out of both queries; ``skip_verb``
    leaves that verb out (the API server's long-lived WATCH requests).
    """

    base: str
    required: tuple[str, ...] = ("bucket",)
    skip_verb: str | None = None
    errors_label: str = "code"

    def events(self, sel: str, options: Mapping[str, str]) -> tuple[str, str]:
        bucket = options.get("bucket", "").strip()
        try:
            float(bucket)
        except ValueError:
            raise PluginError(f"option bucket {bucket!r} is not a number (allowed: a bucket bound such as 0.25)") \
                from None
        matchers = {"verb": "!" + self.skip_verb} if self.skip_verb else {}
        if _bool(options.get("exclude_errors", ""), "exclude_errors"):
            matchers[self.errors_label] = "!~5.."
        sel = q.join_selectors(sel, q.selector(**matchers))
        count = f"{self.base}_count"
        return q.slower_than(count, f"{self.base}_bucket", sel, WINDOW, bucket), q.sum_by(q.rate(count, sel, WINDOW))


@dataclass(frozen=True)
class _Targets:
    """Share of rule evaluations at which a scrape target was down (``up == 0``)."""

    required: tuple[str, ...] = ()

    def events(self, sel: str, options: Mapping[str, str]) -> tuple[str, str]:
        up = q.series("up", sel)
        return q.evaluations(f"{up} == 0", WINDOW), q.evaluations(up, WINDOW)


_Plugin = _Counter | _Histogram | _Targets

#: Plugin id (without ``sloth-common/``) → its events, and the options that name the service.
PLUGINS: Mapping[str, _Plugin] = {
    "slok-go-http-metrics/availability": _Counter("http_request_duration_seconds_count", "code", _SERVER_ERRORS,
                                                  ("filter",)),
    "slok-go-http-metrics/latency": _Histogram("http_request_duration_seconds", ("filter", "bucket")),
    "kubernetes/apiserver/availability": _Counter("apiserver_request_total", "code", _SERVER_ERRORS),
    "kubernetes/apiserver/latency": _Histogram("apiserver_request_duration_seconds", skip_verb="WATCH"),
    "kubernetes/nginx-ingress/availability": _Counter("nginx_ingress_controller_requests", "status",
                                                      _SERVER_ERRORS),
    "istio/v1/availability": _Counter("istio_requests_total", "response_code", _SERVER_ERRORS,
                                      ("service", "namespace")),
    "istio/v1/latency": _Histogram("istio_request_duration_milliseconds", ("service", "namespace", "bucket")),
    "traefik/v2/availability": _Counter("traefik_service_requests_total", "code", "(5..)", ("service_name_regex",)),
    "coredns/availability": _Counter("coredns_dns_responses_total", "rcode", "SERVFAIL",
                                     regex_option="custom_rcode_regex"),
    "prometheus/targets/availability": _Targets(),
}

#: Options that become a label matcher, per plugin family (istio names the destination service).
_SCOPE: Mapping[str, Callable[[Mapping[str, str]], dict[str, str]]] = {
    "istio/": lambda o: {"destination_service_name": o["service"], "destination_service_namespace": o["namespace"]},
    "traefik/": lambda o: {"service": "~" + _regex(o["service_name_regex"], "service_name_regex")},
}
_KNOWN_OPTIONS = {"filter", "bucket", "exclude_errors", "service", "namespace", "service_name_regex",
                  "custom_rcode_regex"}


def _regex(value: str, option: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PluginError(f"option {option} {value!r} is not a regex ({exc})") from None
    return value


def _bool(value: str, option: str) -> bool:
    text = str(value).strip().lower()
    if text in ("", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise PluginError(f"option {option} {value!r} is not a boolean (allowed: true, false)")


def _filter(text: str) -> str:
    """The plugin's ``filter`` option (``a="x",b="y"``), checked to be label matchers only."""
    body = str(text).strip().strip("{},")
    if not body:
        return ""
    try:
        node = pp.parse("m{" + body + "}")
    except Exception:  # promql-parser raises plain exceptions on bad syntax
        node = None
    if not isinstance(node, pp.VectorSelector) or node.matchers.or_matchers:
        raise PluginError(f"option filter {text!r} is not a list of label matchers "
                          '(allowed: e.g. job="api",namespace="prod")')
    return body


def plugin_events(plugin_id: str, options: Mapping[str, str] | None) -> tuple[str, str]:
    """``(bad, total)`` queries with ``{{.window}}`` for a Sloth common SLI plugin, or ``PluginError``."""
    options = {str(k): str(v) for k, v in (options or {}).items()}
    name = plugin_id.removeprefix(_PREFIX)
    plugin = PLUGINS.get(name) if plugin_id.startswith(_PREFIX) else None
    if plugin is None:
        known = ", ".join(_PREFIX + k for k in PLUGINS)
        raise PluginError(f"plugin {plugin_id!r} has no agentwatch equivalent (converted: {known})")
    missing = [o for o in plugin.required if not options.get(o, "").strip()]
    if missing:
        raise PluginError(f"plugin {plugin_id!r} needs option(s) {', '.join(missing)}")
    unknown = sorted(set(options) - _KNOWN_OPTIONS)
    if unknown:
        raise PluginError(f"plugin {plugin_id!r} has unknown option(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(_KNOWN_OPTIONS))})")
    scope = next((build(options) for prefix, build in _SCOPE.items() if name.startswith(prefix)), {})
    sel = q.join_selectors(_filter(options.get("filter", "")), q.selector(**scope))
    return plugin.events(sel, options)
