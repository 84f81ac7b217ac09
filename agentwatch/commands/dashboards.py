"""``agentwatch dashboards render``: every panel of the generated dashboards from live Prometheus data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from agentwatch.commands.common import DEFAULT_SPEC, die, duration_seconds, load_spec_or_exit

__all__ = ["app"]

app = typer.Typer(help="Work with the generated Grafana dashboards.", no_args_is_help=True)


def _from_json_dir(json_dir: Path) -> dict[str, dict]:
    files = sorted(json_dir.glob("*.json"))
    if not files:
        die(f"error: no dashboard JSON in {json_dir}")
    out = {}
    for file in files:
        try:
            out[file.stem] = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            die(f"error: {file}:{exc.lineno}: not valid JSON: {exc.msg}")
    return out


def _from_spec(spec: Path) -> dict[str, dict]:
    from agentwatch.dashboards.export import PROVISIONING_DIR, render

    files = render(load_spec_or_exit(spec))
    return {Path(path).stem: json.loads(text) for path, text in files.items()
            if path.startswith(PROVISIONING_DIR + "/")}


@app.command()
def render(
    prometheus: str = typer.Option(..., "--prometheus", help="Prometheus base URL, e.g. http://127.0.0.1:9090."),
    dashboard: list[str] = typer.Option([], "--dashboard", help="uid or file stem; repeatable (default: all)."),
    range_s: float = typer.Option("1h", "--range", parser=duration_seconds, metavar="DURATION",
                                  help="Time range ending now, e.g. 15m, 1h, 1d."),
    out: Path = typer.Option(Path("dashboard-renders"), "--out", help="Directory for the PNGs."),
    scrape_s: float = typer.Option("15s", "--scrape-interval", parser=duration_seconds, metavar="DURATION",
                                   help="The datasource's scrape interval (Grafana's $__rate_interval)."),
    spec: Path = typer.Option(DEFAULT_SPEC, "--spec", help="Render the dashboards this spec generates."),
    json_dir: Path | None = typer.Option(None, "--json-dir", help="Render provisioning-form dashboard JSON "
                                         "from this folder instead of generating it from --spec."),
) -> None:
    """Render each dashboard's panels from live Prometheus data to <out>/<file stem>.png."""
    try:
        from agentwatch.dashboards.grafana import TimeContext
        from agentwatch.dashboards.render import render_dashboard
    except ImportError as exc:
        die(f"agentwatch dashboards render: needs the {exc.name} package: pip install 'agentwatch[dashboards]'")
    from agentwatch.prometheus_api import PrometheusAPI, PrometheusError

    available = _from_json_dir(json_dir) if json_dir is not None else _from_spec(spec)
    by_key = {**available, **{data.get("uid", stem): data for stem, data in available.items()}}
    unknown = [d for d in dashboard if d not in by_key]
    if unknown:
        known = ", ".join(f"{data.get('uid', stem)} ({stem})" for stem, data in available.items())
        raise typer.BadParameter(f"unknown dashboard {', '.join(unknown)} (allowed: {known})",
                                 param_hint="--dashboard")
    chosen = [stem for stem, data in available.items()
              if not dashboard or stem in dashboard or data.get("uid") in dashboard]
    ctx = TimeContext(end=time.time(), range_s=range_s, scrape_s=scrape_s)
    client = PrometheusAPI(prometheus)
    failed = False
    for stem in chosen:
        target = out / f"{stem}.png"
        try:
            results = render_dashboard(available[stem], client, ctx, target)
        except (OSError, PrometheusError) as exc:
            die(f"error: cannot reach Prometheus at {prometheus}: {exc}")
        empty = [r.title for r in results if r.empty]
        errors = [f"{r.title}: {e}" for r in results for e in r.errors]
        failed = failed or bool(errors)
        typer.echo(f"wrote {target}: {len(results) - len(empty)}/{len(results)} panels with data"
                   + (f"; empty: {', '.join(empty)}" if empty else ""))
        for error in errors:
            typer.echo(f"  query error: {error}", err=True)
    if failed:
        raise typer.Exit(1)
