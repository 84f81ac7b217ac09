"""``make demo``: the whole loop on one machine, with real services and no Docker.

1. Redis, two agent instances sharing it, Prometheus (generated rules, time-scaled so a burn is
   visible in minutes), Alertmanager (generated routing) and an OTLP/HTTP trace receiver start on
   free loopback ports; the agents export every span to the receiver.
2. The support-queue customers (Locust, ``steady`` shape) load both instances; every turn of a
   conversation may land on either.
3. Half-way, instance B is restarted as a new version (``AGENT_VERSION`` 1.1.0, A stays 1.0.0) with
   fault injection on: conversations carry on (state lives in Redis), its 5xx burn the availability
   error budget, the page alert fires and Alertmanager delivers it to a webhook receiver in this
   process; the overview's release comparison row sets the two versions side by side.
4. At the end every dashboard is rendered from the live Prometheus to ``demo-output/``, the spans
   are there as OTLP JSON lines (``spans.jsonl``), and the slowest trace and one failed trace are
   drawn as waterfalls (PNG and a tree on the terminal).
5. The autoscaling lab, short version (``agentwatch lab --quick --scenario agent``): the HPA
   controller's algorithm scales real agents from one to more through a load spike and back,
   report and timeline in ``demo-output/lab/``.

Run ``python -m agentwatch.demo --help`` for the knobs; ``--keep`` leaves everything running.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentwatch import promql as q
from agentwatch.alerts import conventions as conv
from agentwatch.load.runner import LoadError, run_load
from agentwatch.load.summary import render
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import (
    AgentProcess,
    AlertmanagerServer,
    PrometheusServer,
    RedisServer,
    ServiceError,
    prometheus_config,
)
from agentwatch.local.webhook import WebhookReceiver
from agentwatch.telemetry import catalogue as c
from agentwatch.traces.otlp_json import read_spans
from agentwatch.traces.waterfall import draw_waterfall, failed_trace, layout, slowest_trace, terminal_tree

console = Console()


def _print_delivery(path: str, alert: dict) -> None:
    name = alert.get("labels", {}).get("alertname", "?")
    console.print(f"[bold red]alert delivered[/] to {path}: {name} ({alert.get('status')})")


def generate_rules(out: Path, time_scale: int, inbox_url: str) -> tuple[list[Path], Path]:
    """Generate time-scaled rules and an Alertmanager config pointed at ``inbox_url``."""
    subprocess.run([sys.executable, "-m", "agentwatch", "generate", "rules", "--out", str(out),
                    "--time-scale", str(time_scale)], check=True, stdout=subprocess.DEVNULL)
    rule_files, alertmanager = [], None
    for path in sorted(out.rglob("*.y*ml")):
        text = path.read_text()
        if "receivers:" in text and "route:" in text:
            alertmanager = path
        elif "groups:" in text and "kind: PrometheusRule" not in text:
            rule_files.append(path)
    if alertmanager is None:
        raise ServiceError(f"no Alertmanager config among the generated files in {out}")
    text = alertmanager.read_text()
    for path_part in ("/alerts/page", "/alerts/ticket", "/alerts/default"):
        text = text.replace(f"http://127.0.0.1:9094{path_part}", f"{inbox_url}{path_part}")
    alertmanager.write_text(text)
    return rule_files, alertmanager


def status_table(prometheus: PrometheusServer, inbox: WebhookReceiver) -> Table:
    """A snapshot from live queries: per-instance traffic and errors, SLO burn, alerts."""
    sel, window = "", "1m"
    table = Table(title="agentwatch demo — live from Prometheus")
    table.add_column("what")
    table.add_column("value", justify="right")

    def scalar(expr: str, by: str | None = None) -> list[tuple[str, float]]:
        try:
            result = prometheus.query(expr)
        except (ServiceError, OSError):
            return []
        return [(r["metric"].get(by, "") if by else "", float(r["value"][1])) for r in result]

    for instance, value in scalar(q.request_rate(sel, window, by=("instance",)), "instance"):
        table.add_row(f"requests/s {instance}", f"{value:.1f}")
    for instance, value in scalar(q.error_ratio(sel, window, by=("instance",)), "instance"):
        table.add_row(f"5xx ratio {instance}", f"{value:.1%}")
    for version, value in scalar(q.error_ratio_by_version(sel, window), "version"):
        table.add_row(f"5xx ratio version {version}", f"{value:.1%}")
    p99 = q.histogram_quantile(0.99, c.REQUEST_DURATION, sel, window)
    for _, value in scalar(p99):
        table.add_row("p99 latency", f"{value * 1000:.0f} ms")
    for slo, value in scalar(conv.SLO_CURRENT_BURN_RATE, conv.LABEL_SLO):
        table.add_row(f"burn rate {slo}", f"{value:.1f}x")
    for slo, value in scalar(conv.SLO_PERIOD_ERROR_BUDGET_REMAINING, conv.LABEL_SLO):
        table.add_row(f"budget left {slo}", f"{value:.1%}")
    for name in sorted({name for name, _ in scalar('ALERTS{alertstate="firing"}', "alertname")}):
        table.add_row("firing", name)
    table.add_row("alerts delivered", str(len(inbox.received)))
    return table


def drive(urls: list[str], seconds: float, users: int, out: Path) -> None:
    """One load phase (Locust, ``steady``); prints its summary. Lost turns are reported, loudly."""
    try:
        summary = run_load(urls, "steady", seconds, users=users, out_dir=out)
    except LoadError as exc:
        console.print(f"[bold red]load generator failed[/]: {exc}")
        return
    console.print(render(summary))
    if summary.turns_lost:
        console.print(f"[bold red]{summary.turns_lost} acknowledged turns lost[/]")


def show_traces(spans_file: Path, out: Path) -> None:
    """The slowest trace and the slowest failed one: waterfall PNGs and terminal trees."""
    spans = read_spans(spans_file)
    console.print(f"{len(spans)} spans exported over OTLP/HTTP, saved as OTLP JSON lines in {spans_file}")
    for kind, trace_id in (("slowest", slowest_trace(spans)), ("failed", failed_trace(spans))):
        if trace_id is None:
            console.print(f"no {kind} trace")
            continue
        rows = layout(spans, trace_id)
        console.print(f"[bold]{kind} trace[/]")
        console.print(terminal_tree(rows))
        path = draw_waterfall(rows, out / f"trace-{kind}.png", title=f"{kind} trace {trace_id}")
        console.print(f"wrote {path}")


def run_lab_phase(out: Path) -> bool:
    """Phase 3: the autoscaling lab's short run (its own Redis, agents and Prometheus)."""
    console.print("[bold cyan]phase 3[/]: autoscaling lab: the HPA algorithm scales real agents through a spike")
    result = subprocess.run([sys.executable, "-m", "agentwatch", "lab", "--quick", "--scenario", "agent",
                             "--out", str(out)], check=False)
    report = out / "autoscaling-lab.md"
    if result.returncode == 0 and report.exists():
        table = [line for line in report.read_text().splitlines() if line.startswith("| ")]
        console.print("\n".join(table))
        console.print(f"lab report: {report} (timeline {out / 'autoscaling-lab.png'})")
        return True
    console.print(f"[red]the lab phase failed (exit {result.returncode})[/]")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentwatch-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=240, help="seconds of load in all (default 240)")
    parser.add_argument("--users", type=int, default=30, help="customers at once (Locust users, default 30)")
    parser.add_argument("--fault-ratio", type=float, default=0.3, help="5xx share on instance B, phase 2")
    parser.add_argument("--time-scale", type=int, default=60, help="divide SLO windows by this (demo only)")
    parser.add_argument("--out", default="demo-output", help="where the dashboard renders go")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    parser.add_argument("--no-lab", action="store_true", help="skip the autoscaling lab phase")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="agentwatch-demo-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spans_file = out / "spans.jsonl"
    spans_file.unlink(missing_ok=True)
    inbox = WebhookReceiver(on_alert=_print_delivery)
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        stack.callback(inbox.close)
        receiver = stack.enter_context(OtlpReceiver(keep_spans=False, json_lines=spans_file))
        console.print("[bold]starting redis-server[/]")
        redis = stack.enter_context(RedisServer())
        env = {"REDIS_URL": redis.url, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
               # Export each span promptly, so the file is complete when the demo draws it.
               "OTEL_BSP_SCHEDULE_DELAY": "500"}
        rule_files, am_config = generate_rules(workdir / "rules", args.time_scale, inbox.url)
        alertmanager = stack.enter_context(AlertmanagerServer(am_config.read_text()))
        console.print("[bold]starting two agent instances (model load + warm-up)[/]")
        agent_a = stack.enter_context(AgentProcess({**env, "AGENT_VERSION": "1.0.0"}))
        agent_b = AgentProcess({**env, "AGENT_VERSION": "1.0.0"}).start()
        stack.callback(lambda: agent_b.close())
        targets = [f"127.0.0.1:{agent_a.port}", f"127.0.0.1:{agent_b.port}"]
        prometheus = stack.enter_context(PrometheusServer(prometheus_config(
            targets, rule_files, alertmanager=f"127.0.0.1:{alertmanager.port}")))
        console.print(f"Prometheus   {prometheus.url}\nAlertmanager {alertmanager.url}\n"
                      f"agents       {agent_a.url} {agent_b.url}\nOTLP traces  {receiver.endpoint} -> {spans_file}")

        half = args.duration / 2
        console.print(f"[bold green]phase 1[/]: {half:.0f}s of healthy traffic on both instances")
        drive([agent_a.url, agent_b.url], half, args.users, workdir / "load-1")
        console.print(status_table(prometheus, inbox))

        console.print(f"[bold yellow]phase 2[/]: instance B restarts as version 1.1.0 with {args.fault_ratio:.0%} "
                      "injected 5xx;"
                      " conversations continue from Redis")
        agent_b.close()
        agent_b = AgentProcess({**env, "AGENT_VERSION": "1.1.0", "AGENT_FAULT_ERROR_RATIO": str(args.fault_ratio)},
                               port=agent_b.port).start()
        drive([agent_a.url, agent_b.url], half, args.users, workdir / "load-2")
        time.sleep(5)
        console.print(status_table(prometheus, inbox))

        result = subprocess.run([sys.executable, "-m", "agentwatch", "dashboards", "render",
                                 "--prometheus", prometheus.url, "--range", f"{int(args.duration / 60) + 1}m",
                                 "--out", str(out), "--scrape-interval", "1s"], check=False)
        failed = []  # a phase that fails makes the demo fail, after the others have run
        if result.returncode == 0:
            console.print(f"dashboard renders: {', '.join(str(p) for p in sorted(out.glob('*.png')))}")
        else:
            failed.append("dashboard renders")
        show_traces(spans_file, out)  # the agents export every 0.5 s: the file is complete by now
        pages = [a for path, a in inbox.received if path.endswith("/page")]
        console.print(f"[bold]{len(inbox.received)} alert notifications delivered, {len(pages)} pages[/]")
        if not args.no_lab and not run_lab_phase(out / "lab"):
            failed.append("autoscaling lab")
        if args.keep:
            console.print("everything keeps running; Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    if failed:
        console.print(f"[red]the demo failed: {', '.join(failed)}[/]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
