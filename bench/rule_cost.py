"""Benchmark 7: SLO rule evaluation cost — agentwatch's traffic-weighted rules vs Sloth's optimized ones.

For N SLOs (``--slos 10,100``) on a synthetic spec (half availability, half latency, one route
each), a real Prometheus is loaded with ``--days`` (30) of backfilled series: the raw request
counters every SLI reads, and the 5-minute series the period windows read (agentwatch's
``slo:sli_error_events:rate5m``/``slo:sli_total_events:rate5m``, Sloth's
``slo:sli_error:ratio_rate5m``), with a daily traffic cycle. The backfill is OpenMetrics run
through ``promtool tsdb create-blocks-from openmetrics``, one file per 2-hour block (promtool
re-reads its whole input once per block), then compacted by Prometheus before measuring.

The two rule sets — agentwatch's generated SLO rules (``agentwatch.alerts.render``) and
Sloth's (:mod:`agentwatch.bench.sloth_style`) — are loaded in turn, alternating over ``--rounds``,
and ``prometheus_rule_group_last_duration_seconds`` is read from Prometheus after every evaluation
of every group. Reported per kind of group (SLI recordings, meta recordings, alerts) and in total:
the median over evaluations of the summed group durations, and agentwatch / Sloth.
Target: agentwatch <= 1.2 x Sloth while staying traffic-weighted.

    python -m agentwatch.bench.rule_cost [--quick] [--slos 10,100] [--days 30] [--rounds 2]
"""

from __future__ import annotations

import math
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agentwatch import alerts
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context
from agentwatch.bench.harness import Result, Target, alternate, base_parser, finish, rounds_for
from agentwatch.bench.sloth_style import sloth_rules
from agentwatch.local.processes import PrometheusServer, ServiceError, free_port, wait_until
from agentwatch.spec.model import Spec
from agentwatch.telemetry import catalogue as c

__all__ = ["main", "synthetic_spec"]

TARGET = 1.2
#: Resolution of the backfilled series: the raw scrape interval and the 5m rules' evaluation interval.
STEP = 60
BLOCK = 2 * 3600
KINDS = {"sli": cv.GROUP_SLI, "meta": cv.GROUP_META, "alerts": cv.GROUP_ALERTS}
DURATION = "prometheus_rule_group_last_duration_seconds"
EVALUATED = "prometheus_rule_group_last_evaluation_timestamp_seconds"


def synthetic_spec(n: int, service: str) -> Spec:
    """``n`` SLOs of service ``service``: even ones availability, odd ones latency (1 s), route ``/r<i>``."""
    slos = []
    for i in range(n):
        sli = ({"availability": {"route": f"/r{i}"}} if i % 2 == 0
               else {"latency": {"route": f"/r{i}", "threshold": 1.0}})
        slos.append({"name": f"slo-{i}", "objective": 99.9 if i % 2 == 0 else 99.0, "sli": sli})
    return Spec.model_validate({"version": "agentwatch/v1", "service": {"name": service}, "slos": slos})


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class Synthetic:
    """The synthetic traffic of ``n`` SLOs on a ``STEP`` grid from ``start`` to ``end``: raw counters
    (labelled as the live target that continues them) and the 5-minute series the rules record."""

    def __init__(self, n: int, start: int, end: int, aw: Spec, sloth: Spec, target: dict[str, str]) -> None:
        self.start = start
        t = np.arange(start, end, STEP, dtype=np.float64)
        self.raw: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {c.REQUEST_DURATION.count: [],
                                                                         c.REQUEST_DURATION.bucket: []}
        self.recorded: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
            cv.SLI_ERROR_EVENTS_RATE: [], cv.SLI_TOTAL_EVENTS_RATE: [], cv.sli_error_rule("5m"): []}
        self.target = target
        aw_ctx, sloth_ctx = Context(aw), Context(sloth)
        five = {cv.LABEL_WINDOW: "5m"}
        for i in range(n):
            phase = 2 * math.pi * i / max(n, 1)
            rps = 10 * (1 + 0.8 * np.sin(2 * math.pi * (t % 86400) / 86400 + phase))  # a daily cycle
            bad_share = 0.002 * (1 + np.sin(2 * math.pi * t / (3 * 86400) + phase))
            total, bad = np.cumsum(rps * STEP), np.cumsum(rps * bad_share * STEP)
            route = {"route": f"/r{i}", "code": "200"}
            if i % 2 == 0:  # availability: 2xx and 5xx counts
                self.raw[c.REQUEST_DURATION.count] += [(route, total - bad), ({**route, "code": "500"}, bad)]
            else:  # latency: all requests, and those within 1 s
                self.raw[c.REQUEST_DURATION.count].append((route, total))
                self.raw[c.REQUEST_DURATION.bucket].append(({**route, "le": c.bucket_label(1.0)}, total - bad))
            aw_labels = {**aw_ctx.slo_labels(aw.slos[i]), **five}
            self.recorded[cv.SLI_ERROR_EVENTS_RATE].append((aw_labels, rps * bad_share))
            self.recorded[cv.SLI_TOTAL_EVENTS_RATE].append((aw_labels, rps))
            self.recorded[cv.sli_error_rule("5m")].append(({**sloth_ctx.slo_labels(sloth.slos[i]), **five}, bad_share))

    def exposition(self, at: float) -> bytes:
        """The raw counters at time ``at``, in the text format (the live target's scrape)."""
        k = max(0, int((at - self.start) // STEP))
        lines = []
        for family, series in self.raw.items():
            lines.append(f"# TYPE {family} untyped\n")
            lines += [f"{family}{_labels(labels)} {values[min(k, len(values) - 1)]:.10g}\n"
                      for labels, values in series]
        return "".join(lines).encode()

    def backfill(self, until: int, data_dir: Path) -> int:
        """TSDB blocks of every series before ``until`` into ``data_dir``; returns the samples written.

        One OpenMetrics file per 2-hour block: promtool re-reads its whole input once per block."""
        end = until // STEP * STEP
        families = {family: [(_labels({**self.target, **labels}), values) for labels, values in series]
                    for family, series in self.raw.items()}
        families.update({family: [(_labels(labels), values) for labels, values in series]
                         for family, series in self.recorded.items()})
        samples = 0
        with tempfile.TemporaryDirectory(prefix="agentwatch-backfill-") as tmp:
            files = []
            for block_start in range(self.start - self.start % BLOCK, end, BLOCK):
                lo = max(0, (block_start - self.start) // STEP)
                hi = max(0, (min(block_start + BLOCK, end) - self.start) // STEP)
                stamps = [f" {self.start + k * STEP}\n" for k in range(lo, hi)]
                if not stamps:
                    continue
                path = Path(tmp) / f"{block_start}.om"
                with path.open("w") as out:
                    for family, series in families.items():
                        out.write(f"# TYPE {family} unknown\n")
                        for labels, values in series:
                            out.writelines(f"{family}{labels} {v:.10g}{s}"
                                           for v, s in zip(values[lo:hi], stamps, strict=True))
                            samples += len(stamps)
                    out.write("# EOF\n")
                files.append(path)

            def create(path: Path) -> None:
                subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path),
                                str(data_dir)], check=True, capture_output=True, timeout=600)

            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(create, files))
        return samples


class LiveTarget:
    """An HTTP target serving :meth:`Synthetic.exposition`, so the raw series go on past the backfill."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.data: Synthetic | None = None
        self.port = free_port()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = target.data.exposition(time.time()) if target.data else b""
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="synthetic-target")

    @property
    def labels(self) -> dict[str, str]:
        """What Prometheus attaches to the scraped series; the backfill carries them too."""
        return {"instance": f"127.0.0.1:{self.port}", "job": "synthetic"}

    def __enter__(self) -> LiveTarget:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _metrics(url: str) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        body = response.read().decode()
    return {(s.name, s.labels.get("rule_group", "")): s.value for f in text_string_to_metric_families(body)
            for s in f.samples if s.name in (DURATION, EVALUATED, "prometheus_tsdb_blocks_loaded",
                                             "prometheus_tsdb_compactions_total")}


def _wait_compacted(prometheus: PrometheusServer, days: float, timeout: float = 900) -> int:
    """Wait until Prometheus has compacted the backfilled 2-hour blocks into larger ones, as a server
    holding 30 days would have them (its compactor runs once a minute); returns the blocks loaded.
    Less than a day of backfill (quick mode) is measured as loaded."""
    history: list[tuple[float, float]] = []
    polls = 16 if days >= 1 else 2  # unchanged for 75 s: more than one compactor cycle

    def settled() -> bool:
        m = _metrics(prometheus.url)
        history.append((m.get(("prometheus_tsdb_blocks_loaded", ""), 0),
                        m.get(("prometheus_tsdb_compactions_total", ""), 0)))
        compacted = days < 1 or history[-1][1] > 0 or len(history) > 40
        return compacted and len(history) >= polls and len(set(history[-polls:])) == 1

    wait_until(settled, timeout, "Prometheus to finish compacting the backfill", interval=5)
    return int(history[-1][0])


def _config(rule_file: Path, interval: int, target: str) -> str:
    return yaml.safe_dump({"global": {"evaluation_interval": f"{interval}s", "scrape_interval": f"{STEP}s"},
                           "rule_files": [str(rule_file)],
                           "scrape_configs": [{"job_name": "synthetic", "static_configs": [{"targets": [target]}]}]})


def _measure(prometheus: PrometheusServer, rule_file: Path, interval: int, evaluations: int,
             target: str) -> dict[str, list[float]]:
    """Load ``rule_file`` alone, skip each group's first evaluation, then collect ``evaluations`` durations."""
    prometheus.config_path.write_text(_config(rule_file, interval, target))
    prometheus.reload()
    names = [g["name"] for g in yaml.safe_load(rule_file.read_text())["groups"]]
    keys = {name: f"{rule_file};{name}" for name in names}
    seen: dict[str, list[float]] = {name: [] for name in names}
    last: dict[str, float] = {}
    deadline = time.monotonic() + interval * (evaluations + 3) + 120
    while time.monotonic() < deadline and min(len(v) for v in seen.values()) < evaluations + 1:
        m = _metrics(prometheus.url)
        for name, key in keys.items():
            stamp = m.get((EVALUATED, key))
            if stamp and stamp > 0 and stamp != last.get(name):
                last[name] = stamp
                seen[name].append(m[(DURATION, key)])
        time.sleep(1)
    if min(len(v) for v in seen.values()) < evaluations + 1:
        raise ServiceError(f"groups of {rule_file.name} were not evaluated {evaluations + 1} times in time")
    return {name: values[1:evaluations + 1] for name, values in seen.items()}


def _by_kind(durations: dict[str, list[float]], evaluations: int) -> dict[str, list[float]]:
    """Per kind of group (and ``all``), the summed duration of each evaluation round."""
    out: dict[str, list[float]] = {}
    for kind, pattern in KINDS.items():
        prefix = pattern.split("{", 1)[0]
        groups = [v for name, v in durations.items() if name.startswith(prefix)]
        out[kind] = [sum(g[e] for g in groups) for e in range(evaluations)]
    out["all"] = [sum(out[k][e] for k in KINDS) for e in range(evaluations)]
    return out


def run_size(n: int, days: float, rounds: int, evaluations: int, interval: int) -> dict[str, dict[str, list[float]]]:
    aw, sloth = synthetic_spec(n, "bench-aw"), synthetic_spec(n, "bench-sloth")
    rules_dir = Path(tempfile.mkdtemp(prefix="agentwatch-rule-cost-"))
    try:
        files = alerts.render(aw)
        aw_groups = [g for path, text in files.items() if Path(path).name.startswith("slo-") and "/tests/" not in path
                     for g in yaml.safe_load(text)["groups"]]
        (rules_dir / "agentwatch.yaml").write_text(yaml.safe_dump({"groups": aw_groups}, sort_keys=False))
        (rules_dir / "sloth.yaml").write_text(sloth_rules(sloth))
        variants = {"agentwatch": rules_dir / "agentwatch.yaml", "sloth": rules_dir / "sloth.yaml"}
        for path in variants.values():
            subprocess.run(["promtool", "check", "rules", str(path)], check=True, capture_output=True)
        measure_seconds = rounds * 2 * interval * (evaluations + 3) + 900
        with LiveTarget() as target:
            instance = target.labels["instance"]
            server = PrometheusServer(_config(variants["sloth"], interval, instance), [
                "--storage.tsdb.retention.time=90d", "--query.max-samples=200000000"])
            (server.workdir / "data").mkdir()
            started = time.perf_counter()
            now = int(time.time()) // STEP * STEP
            data = Synthetic(n, now - int(days * 86400) // STEP * STEP, now + measure_seconds, aw, sloth,
                             target.labels)
            # Blocks end before Prometheus starts (it refuses samples older than its newest block);
            # the live target continues the raw series from there.
            samples = data.backfill(now, server.workdir / "data")
            target.data = data
            print(f"  {n} SLOs: backfilled {samples:,} samples in {time.perf_counter() - started:.0f} s", flush=True)
            with server as prometheus:
                blocks = _wait_compacted(prometheus, days)
                print(f"  {n} SLOs: {blocks} blocks after compaction", flush=True)
                results = alternate(
                    list(variants), rounds,
                    lambda v, _r: _by_kind(_measure(prometheus, variants[v], interval, evaluations, instance),
                                           evaluations),
                    lambda v, r, x: print(f"  {n} SLOs round {r + 1}/{rounds} {v:>10}: all groups "
                                          f"{statistics.median(x['all']) * 1e3:8.1f} ms per evaluation", flush=True))
    finally:
        shutil.rmtree(rules_dir, ignore_errors=True)
    return {v: {kind: [x for r in rounds_ for x in r[kind]] for kind in (*KINDS, "all")}
            for v, rounds_ in results.items()}


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--slos", default=None, help="comma-separated SLO counts (default 10,100; quick 2)")
    parser.add_argument("--days", type=float, default=None, help="days of backfilled history (default 30; quick 1)")
    parser.add_argument("--evaluations", type=int, default=None, help="evaluations per round (default 5; quick 2)")
    parser.add_argument("--interval", type=int, default=15, help="rule evaluation interval, seconds")
    args = parser.parse_args(argv)
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        raise SystemExit("prometheus and promtool are needed: `make deps` (Debian package prometheus)")
    sizes = [int(x) for x in (args.slos or ("2" if args.quick else "10,100")).split(",")]
    days = args.days or (1.0 if args.quick else 30.0)
    evaluations = args.evaluations or (2 if args.quick else 5)
    rounds = rounds_for(args, full=2, quick=1)
    print(f"rule cost: {sizes} SLOs, {days:g} days backfilled, {rounds} rounds x {evaluations} evaluations "
          f"every {args.interval} s", flush=True)
    result = Result("rule_cost", "SLO rule evaluation cost: agentwatch vs Sloth's optimized rules (benchmark 7)",
                    args.quick, {"slos": sizes, "days_backfilled": days, "resolution_s": STEP, "rounds": rounds,
                                 "evaluations_per_round": evaluations, "evaluation_interval_s": args.interval,
                                 "metric": DURATION, "prometheus": _version()})
    worst = 0.0
    for n in sizes:
        measured = run_size(n, days, rounds, evaluations, args.interval)
        for kind in (*KINDS, "all"):
            ours, theirs = (statistics.median(measured[v][kind]) for v in ("agentwatch", "sloth"))
            result.rows.append({"SLOs": n, "groups": kind, "agentwatch ms": ours * 1e3, "sloth ms": theirs * 1e3,
                                "agentwatch / sloth": ours / theirs if theirs else float("nan")})
            if kind == "all":
                worst = max(worst, ours / theirs)
                result.targets.append(Target(f"agentwatch / Sloth rule evaluation time, {n} SLOs", f"<= {TARGET}x",
                                             ours / theirs, ours / theirs <= TARGET, unit="ratio",
                                             note="sum of all SLO groups, median over evaluations"))
    result.notes.append("ms = sum over the SLOs' groups of prometheus_rule_group_last_duration_seconds, median "
                        "over evaluations (first evaluation after each load skipped)")
    result.notes.append("agentwatch's period window is traffic-weighted (sum of 5m bad / sum of 5m total); "
                        "Sloth's averages 5m ratios (sum_over_time / count_over_time); both read 5m series")
    return finish(result, None, args, argv)


def _version() -> str:
    out = subprocess.run(["prometheus", "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "unknown"


if __name__ == "__main__":
    main()
