"""Overload: one agent at ten times its sustainable rate keeps most of its throughput.

Each round measures, against the same agent process, back to back:

* **sustainable** — ``wrk`` with a closed loop of 16 connections (two full batches in flight): the
  answered messages per second with no error, ``X``;
* **overload** — ``wrk`` with hundreds of connections, each pausing after an answer so that the
  offered rate is about ``factor * X`` (a 429 is answered in microseconds; without the pause a
  closed loop would turn it into an instant retry and offer far more than ten times).

Both rates are the agent's own count of answered messages (its request histogram, code 200) over
the steady part of each phase: from a settling time after ``wrk`` starts to a little before it
stops. Counting every answer wrk saw over its whole run would charge the overload phase for its
pipeline filling up (no answer for the first admitted latency, about half a second) and for the
admitted requests still in flight when wrk stops, 5 % of the phase together, and the sustainable
phase (16 requests in flight, answered in tens of milliseconds) far less. wrk's own counts are
reported beside them.

Reported: answered (200) per second under overload divided by ``X`` (target ≥ 0.8), every status
seen (no 5xx allowed), the admitted requests' p99 from the agent's own request histogram (server
side), the agent's RSS before, at its peak and after, and the status of the first request once the
load stops.

    python -m agentwatch.bench.overload [--quick] [--factor 10] [--seconds 15] [--no-pin]
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agentwatch.bench.agents import PinnedAgent, Scrape, pin_process, rss_bytes, scrape
from agentwatch.bench.harness import Pinning, Result, Target, base_parser, finish, rounds_for, summarize
from agentwatch.bench.workload import MESSAGES, message_path
from agentwatch.bench.wrk import WrkStats, run_wrk
from agentwatch.local.processes import RedisServer
from agentwatch.telemetry import catalogue as c

__all__ = ["OverloadRound", "main", "measure_round"]

TARGET = 0.8
#: Closed-loop connections for the sustainable rate: two full batches in flight.
SUSTAIN_CONNECTIONS = 16
OVERLOAD_CONNECTIONS = 800
MESSAGES_ROUTE = "/v1/conversations/{conversation_id}/messages"


@dataclass
class OverloadRound:
    """One sustainable + overload pair against the same agent."""

    sustainable_rps: float  # steady-state answered messages per second (the agent's counter)
    sustainable_p99_ms: float
    offered_rps: float
    answered_rps: float  # the same, under overload
    statuses: dict[int, int]
    admitted_p99_s: float
    rss_before: int
    rss_peak: int
    rss_after: int
    after_status: int
    error_classes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: wrk's answered (200) per second over its whole run, sustainable and overload phase.
    client_rps: tuple[float, float] = (0.0, 0.0)

    @property
    def ratio(self) -> float:
        return self.answered_rps / self.sustainable_rps if self.sustainable_rps else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)


def histogram_quantile(q: float, before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    """Quantile ``q`` of what a histogram observed between two scrapes (Prometheus' linear
    interpolation inside the bucket); ``inf`` when it lies in the +Inf bucket, ``nan`` if empty."""
    def buckets(scrape: Scrape) -> dict[float, float]:
        out: dict[float, float] = {}
        for s in scrape.samples:
            if s.name == name + "_bucket" and all(s.labels.get(k) == v for k, v in labels.items()):
                out[float(s.labels["le"])] = out.get(float(s.labels["le"]), 0.0) + s.value
        return out

    b0, b1 = buckets(before), buckets(after)
    edges = sorted(b1)
    counts = [b1[e] - b0.get(e, 0.0) for e in edges]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return math.nan
    rank, lower, below = q * total, 0.0, 0.0
    for edge, cumulative in zip(edges, counts, strict=True):
        if cumulative >= rank:
            if math.isinf(edge):
                return math.inf
            inside = cumulative - below
            return lower + (edge - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = edge, cumulative
    return math.inf


def _answered(scrape_: Scrape) -> float:
    """Messages the agent answered 200 so far (the series exists from its first 200)."""
    try:
        return scrape_.value(c.REQUEST_DURATION.name + "_count", route=MESSAGES_ROUTE, code="200")
    except KeyError:
        return 0.0


def _steady(url: str, load: Callable[[], WrkStats], seconds: float, settle_s: float,
            tail_s: float) -> tuple[WrkStats, float, Scrape, Scrape]:
    """Run ``load`` (a blocking wrk run of ``seconds``) and meanwhile read the agent's answered-message
    counter ``settle_s`` after the start and ``tail_s`` before the end: wrk's stats, the steady rate
    of answers per second and the two scrapes."""
    out: list[WrkStats] = []
    runner = threading.Thread(target=lambda: out.append(load()), daemon=True)
    started = time.monotonic()
    runner.start()
    time.sleep(settle_s)
    first, t0 = scrape(url), time.monotonic()
    time.sleep(max(0.5, started + seconds - tail_s - time.monotonic()))
    second, t1 = scrape(url), time.monotonic()
    runner.join()
    if not out:
        raise RuntimeError("wrk failed during the phase (see its output above)")
    return out[0], (_answered(second) - _answered(first)) / (t1 - t0), first, second


def _post_status(url: str, text: str) -> int:
    request = urllib.request.Request(url, data=json.dumps({"text": text}).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class _RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, rss_bytes(self.pid))


def _window(seconds: float) -> tuple[float, float]:
    """(settle, tail) seconds of a phase left out of its steady rate: a fifth and a tenth of it."""
    return seconds / 5, seconds / 10


def measure_round(url: str, pid: int, *, seconds: float, sustain_seconds: float, factor: float,
                  pinning: Pinning | None, tag: str = "ov") -> OverloadRound:
    """One sustainable phase, then one overload phase at ``factor`` times it, then one request."""
    bodies = [json.dumps({"text": m}) for m in MESSAGES]
    target = url + message_path(f"{tag}-{{n}}")
    sustain, x, _, _ = _steady(url, lambda: run_wrk(
        target, seconds=sustain_seconds, connections=SUSTAIN_CONNECTIONS, body=bodies, distinct=500,
        pinning=pinning, server_pid=pid, count_status=True), sustain_seconds, *_window(sustain_seconds))
    # Each connection: pause, then a request; ~1/factor of them are admitted and take up to about
    # a second. Solve the pause for the offered rate factor * x (at least 10 ms).
    admitted_s = sustain.p50_ms / 1000
    delay_ms = max(10, int(1000 * (OVERLOAD_CONNECTIONS / (factor * x) - admitted_s / factor))) if x else 100
    before, rss_before = scrape(url), rss_bytes(pid)
    sampler = _RssSampler(pid)
    sampler.start()
    overload, answered, _, _ = _steady(url, lambda: run_wrk(
        target, seconds=seconds, connections=OVERLOAD_CONNECTIONS, body=bodies, distinct=500, pinning=pinning,
        server_pid=pid, count_status=True, delay_ms=delay_ms, timeout_s=30), seconds, *_window(seconds))
    sampler.stop.set()
    sampler.join()
    middle = scrape(url)
    # The load is over once wrk has exited; its connections' abandoned requests are cancelled as
    # their disconnects arrive. One Retry-After (1 s) later, the first new request must be served.
    time.sleep(1.0)
    after_status = _post_status(url + message_path(f"{tag}-after"), "where is my order 12345?")
    p99 = histogram_quantile(0.99, before, middle, c.REQUEST_DURATION.name, route=MESSAGES_ROUTE, code="200")
    errors = {k: int(middle.value(c.ERRORS.name, error_class=k) - before.value(c.ERRORS.name, error_class=k))
              for k in c.ERROR_CLASSES}
    statuses = dict(overload.statuses)
    if overload.socket_errors:
        statuses[0] = overload.socket_errors  # 0: no HTTP answer (connect/read error, timeout)
    return OverloadRound(
        sustainable_rps=x, sustainable_p99_ms=sustain.p99_ms, offered_rps=overload.rps, answered_rps=answered,
        client_rps=(sustain.ok_rps, statuses.get(200, 0) / overload.seconds if overload.seconds else 0.0),
        statuses=statuses, admitted_p99_s=p99, rss_before=rss_before,
        rss_peak=max(sampler.peak, rss_before), rss_after=rss_bytes(pid), after_status=after_status,
        error_classes={k: v for k, v in errors.items() if v},
        notes=[f"pause {delay_ms} ms per connection between requests"])


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--factor", type=float, default=10.0, help="offered rate / sustainable rate")
    parser.add_argument("--seconds", type=float, default=None, help="overload phase (default 15, quick 8)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (8.0 if args.quick else 15.0)
    sustain_seconds = 5.0 if args.quick else 8.0
    rounds = rounds_for(args, full=3, quick=1)
    pinning = Pinning.detect(not args.no_pin)
    print(f"overload: {rounds} round(s), {args.factor:g}x for {seconds:g} s; {pinning.reason}", flush=True)
    result = Result("overload", "Overload: throughput kept at ten times the sustainable rate", args.quick,
                    {"factor": args.factor, "overload seconds": seconds, "sustain seconds": sustain_seconds,
                     "sustain connections": SUSTAIN_CONNECTIONS, "overload connections": OVERLOAD_CONNECTIONS,
                     "agent": "defaults (admission limit AGENT_MAX_INFLIGHT, adaptive to the model's pace)"})
    measured: list[OverloadRound] = []
    with RedisServer() as redis_server, PinnedAgent(redis_server.url, pinning) as agent:
        pin_process(redis_server.process.pid, pinning.load)
        for r in range(rounds):
            one = measure_round(agent.url, agent.pid, seconds=seconds, sustain_seconds=sustain_seconds,
                                factor=args.factor, pinning=pinning, tag=f"ov{r}")
            measured.append(one)
            result.rows.append({
                "round": r + 1, "sustainable msg/s": one.sustainable_rps, "offered req/s": one.offered_rps,
                "offered / sustainable": one.offered_rps / one.sustainable_rps if one.sustainable_rps else 0,
                "answered msg/s": one.answered_rps, "ratio": one.ratio,
                "wrk's answered/s, sustainable/overload": f"{one.client_rps[0]:.0f}/{one.client_rps[1]:.0f}",
                "statuses": ", ".join(f"{k}: {v}" for k, v in sorted(one.statuses.items())),
                "admitted p99 s": one.admitted_p99_s, "RSS MiB before/peak/after":
                    f"{one.rss_before / 2**20:.0f}/{one.rss_peak / 2**20:.0f}/{one.rss_after / 2**20:.0f}",
                "agent errors": ", ".join(f"{k}: {v}" for k, v in sorted(one.error_classes.items())),
                "first request after": one.after_status})
            print(f"  round {r + 1}: sustainable {one.sustainable_rps:.0f}/s, offered {one.offered_rps:.0f}/s, "
                  f"answered {one.answered_rps:.0f}/s -> ratio {one.ratio:.3f} "
                  f"(wrk saw {one.client_rps[0]:.0f}/{one.client_rps[1]:.0f}); {one.statuses}; "
                  f"admitted p99 {one.admitted_p99_s:.3f}s; after: {one.after_status}; "
                  f"agent errors {one.error_classes}", flush=True)
    ratios = summarize(m.ratio for m in measured)
    errors = sum(m.server_errors for m in measured)
    result.targets.append(Target("answered under 10x / sustainable, msg/s", f">= {TARGET:.0%}", ratios["median"],
                                 ratios["median"] >= TARGET,
                                 note=f"per round {ratios['min']:.2f}-{ratios['max']:.2f}; 5xx: {errors}; "
                                      f"first request after the load: "
                                      f"{', '.join(str(m.after_status) for m in measured)}"))
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
