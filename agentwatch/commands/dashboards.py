"""``agentwatch generate dashboards`` and ``agentwatch dashboards render``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from agentwatch.cli import dashboards_app, generate_app

__all__ = ["generate_dashboards", "load_spec_or_defaults", "parse_duration", "render"]

DEFAULT_SPEC = "agentwatch.yaml"


def load_spec_or_defaults(spec: str | None) -> tuple[Any, str]:
    """The validated spec and its label; with no ``--spec`` and no ./agentwatch.yaml, the defaults.

    An invalid spec exits 2 with one ``file:line: field: message`` line per problem.
    """
    from agentwatch.spec import SpecError, load_spec

    path = Path(spec or DEFAULT_SPEC)
    if spec is None and not path.exists():
        return None, "defaults (no spec)"
    try:
        return load_spec(path), path.name
    except SpecError as exc:
        typer.echo(f"error: invalid spec\n{exc}", err=True)
        raise typer.Exit(2) from None


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` → seconds; anything else is a clear CLI error."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value = float(text[:-1])
        if value <= 0 or text[-1] not in units:
            raise ValueError
    except (ValueError, IndexError):
        raise typer.BadParameter(f"{text!r} is not a duration (allowed: a number with s, m, h or d, e.g. 1h)") \
            from None
    return value * units[text[-1]]


def generate_dashboards(
    spec: str = typer.Option(None, "--spec", help="Spec file (default: ./agentwatch.yaml if present, "
                             "else built-in defaults)."),
    out: Path = typer.Option(Path("."), "--out", help="Root the dashboards/ paths are written under."),
) -> None:
    """Write the Grafana dashboards (provisioning and import forms) and provisioning YAML."""
    from agentwatch.dashboards import write_all

    loaded, label = load_spec_or_defaults(spec)
    for path in write_all(loaded, out, label):
        typer.echo(f"wrote {path}")


def _dashboards(json_dir: Path) -> dict[str, dict]:
    files = sorted(json_dir.glob("*.json"))
    if not files:
        typer.echo(f"error: no dashboard JSON in {json_dir}; run `agentwatch generate dashboards` first",
                   err=True)
        raise typer.Exit(2)
    out = {}
    for file in files:
        try:
            data = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            typer.echo(f"error: {file}:{exc.lineno}: not valid JSON: {exc.msg}", err=True)
            raise typer.Exit(2) from None
        out[data.get("uid", file.stem)] = data
        out[file.stem] = data
    return out


def render(
    prometheus: str = typer.Option(..., "--prometheus", help="Prometheus base URL, e.g. http://127.0.0.1:9090."),
    dashboard: list[str] = typer.Option([], "--dashboard", help="uid or file stem; repeatable (default: all)."),
    range_: str = typer.Option("1h", "--range", help="Time range ending now, e.g. 15m, 1h, 1d."),
    out: Path = typer.Option(Path("dashboards/renders"), "--out", help="Directory for the PNGs."),
    scrape_interval: str = typer.Option("15s", "--scrape-interval",
                                        help="The datasource's scrape interval (Grafana's $__rate_interval)."),
    json_dir: Path = typer.Option(Path(__file__).resolve().parents[2] / "dashboards/generated/provisioning",
                                  "--json-dir", help="Provisioning-form dashboard JSON to render."),
) -> None:
    """Render each dashboard's panels from live Prometheus data to <out>/<file stem>.png."""
    from agentwatch.dashboards.grafana import TimeContext
    from agentwatch.dashboards.render import render_dashboard
    from agentwatch.prometheus_api import PrometheusAPI

    available = _dashboards(json_dir)
    unknown = [d for d in dashboard if d not in available]
    if unknown:
        stems = sorted({f"{v['uid']} ({k})" for k, v in available.items() if k != v["uid"]})
        typer.echo(f"error: unknown dashboard {unknown} (allowed: {', '.join(stems)})", err=True)
        raise typer.Exit(2)
    chosen = {available[d]["uid"]: available[d] for d in dashboard} or \
        {v["uid"]: v for v in available.values()}
    ctx = TimeContext(end=time.time(), range_s=parse_duration(range_), scrape_s=parse_duration(scrape_interval))
    client = PrometheusAPI(prometheus)
    failed = False
    for data in chosen.values():
        stem = next(k for k, v in available.items() if v is data and k != data["uid"])
        target = out / f"{stem}.png"
        try:
            results = render_dashboard(data, client, ctx, target)
        except OSError as exc:
            typer.echo(f"error: cannot reach Prometheus at {prometheus}: {exc}", err=True)
            raise typer.Exit(1) from None
        empty = [r.title for r in results if r.empty]
        errors = [f"{r.title}: {e}" for r in results for e in r.errors]
        failed = failed or bool(errors)
        typer.echo(f"wrote {target}: {len(results) - len(empty)}/{len(results)} panels with data"
                   + (f"; empty: {', '.join(empty)}" if empty else ""))
        for error in errors:
            typer.echo(f"  query error: {error}", err=True)
    if failed:
        raise typer.Exit(1)


generate_app.command("dashboards")(generate_dashboards)
dashboards_app.command("render")(render)
