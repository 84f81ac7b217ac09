"""The summary of a load run: Locust's CSV statistics, the ledger, and the turns read back.

Latency percentiles and throughput are Locust's own (``<prefix>_stats.csv``, history in
``<prefix>_stats_history.csv``); answers by class and acknowledged turns come from the ledger the
locustfile writes. Every conversation with an acknowledged turn is then read back with
``GET /v1/conversations/{id}`` (from any of the targets): a turn the agent acknowledged with 200
but that is missing from the history is a *lost turn*, and must never happen.

Usage::

    summary = summarize(out_dir / "locust", out_dir / "ledger.json", targets, shape="steady")
    summary.turns_lost, summary.latency["messages"]["p99"], summary.to_dict()
"""

from __future__ import annotations

import asyncio
import csv
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from agentwatch.load.ledger import MESSAGE, OK, ConversationRecord, Ledger
from agentwatch.load.personas import expected_outcome

__all__ = ["LoadSummary", "Verification", "read_stats", "render", "summarize", "verify_turns"]

AGGREGATED = "Aggregated"
PERCENTILES = {"p50": "50%", "p95": "95%", "p99": "99%"}


@dataclass(frozen=True)
class Verification:
    """Acknowledged turns checked against the agent's history."""

    conversations: int
    acknowledged: int
    lost: int
    missing_conversations: int
    unreadable: int  # conversations the read-back could not fetch (transport errors)
    examples: list[str]


@dataclass
class LoadSummary:
    """Figures of one run. Latencies in seconds; ratios in 0..1."""

    shape: str
    targets: list[str]
    seconds: float
    users_peak: int
    requests: int
    throughput: float
    messages: int
    messages_per_second: float
    latency: dict[str, dict[str, float | None]]
    answers_by_class: dict[str, int]
    errors_by_class: dict[str, int]
    error_ratio: float
    error_ratio_by_class: dict[str, float]
    conversations: dict[str, int]
    outcomes: dict[str, int]
    outcome_mismatches: int
    turns_acknowledged: int
    turns_lost: int
    turns_verification: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, float | None] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def escalations(self) -> int:
        return self.conversations.get("escalated", 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_stats(prefix: str | Path) -> dict[str, dict[str, str]]:
    """``<prefix>_stats.csv`` rows by request name (the total row is ``Aggregated``)."""
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def _percentiles(row: dict[str, str] | None) -> dict[str, float | None]:
    if row is None:
        return {k: None for k in PERCENTILES}
    out: dict[str, float | None] = {}
    for key, column in PERCENTILES.items():
        value = _float(row.get(column, ""))
        out[key] = value / 1000 if value is not None else None
    return out


def _history(prefix: str | Path) -> list[dict[str, str]]:
    path = Path(f"{prefix}_stats_history.csv")
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _drift(history: list[dict[str, str]]) -> dict[str, float | None]:
    """Median of the rolling message p99 over the first and the last fifth of the run (soak)."""
    values = [_float(r.get("99%", "")) for r in history if r.get("Name") == MESSAGE]
    values = [v / 1000 for v in values if v]
    if len(values) < 10:
        return {"p99_first_fifth": None, "p99_last_fifth": None}
    fifth = len(values) // 5
    return {"p99_first_fifth": statistics.median(values[:fifth]), "p99_last_fifth": statistics.median(values[-fifth:])}


async def _verify(records: list[ConversationRecord], targets: Sequence[str], concurrency: int) -> Verification:
    slots = asyncio.Semaphore(concurrency)
    lost = missing = unreadable = 0
    examples: list[str] = []

    async def check(i: int, record: ConversationRecord, client: httpx.AsyncClient) -> None:
        nonlocal lost, missing, unreadable
        async with slots:
            response = None
            for attempt in range(3):
                url = f"{targets[(i + attempt) % len(targets)]}/v1/conversations/{record.id}"
                try:
                    response = await client.get(url)
                    if response.status_code < 500:
                        break
                except httpx.HTTPError:
                    response = None
            if response is None or response.status_code >= 500:
                unreadable += 1
                return
            if response.status_code == 404:
                missing += 1
                present: set[int] = set()
            else:
                present = {t.get("turn") for t in response.json().get("turns", []) if t.get("role") == "user"}
            gone = sorted(set(record.acked) - present)
            lost += len(gone)
            if gone and len(examples) < 10:
                examples.append(f"{record.id}: turns {gone} acknowledged, not in the history")

    async with httpx.AsyncClient(timeout=10.0) as client:
        await asyncio.gather(*(check(i, r, client) for i, r in enumerate(records)))
    return Verification(len(records), sum(len(r.acked) for r in records), lost, missing, unreadable, examples)


def verify_turns(records: list[ConversationRecord], targets: Sequence[str], concurrency: int = 16) -> Verification:
    """Read back every conversation that has acknowledged turns and count the lost ones."""
    with_turns = [r for r in records if r.acked]
    if not with_turns:
        return Verification(0, 0, 0, 0, 0, [])
    return asyncio.run(_verify(with_turns, [t.rstrip("/") for t in targets], concurrency))


def summarize(prefix: str | Path, ledger_path: str | Path, targets: Sequence[str], shape: str,
              verify: bool = True) -> LoadSummary:
    """Build the summary of a finished run (``prefix``: Locust's ``--csv`` prefix)."""
    stats = read_stats(prefix)
    ledger = Ledger.load(ledger_path)
    history = _history(prefix)
    total, messages = stats.get(AGGREGATED), stats.get(MESSAGE)
    requests = int(total["Request Count"]) if total else 0
    answers = ledger.classes()
    errors = {k: v for k, v in sorted(answers.items()) if k != OK}
    answered = sum(answers.values())
    records = ledger.conversations
    outcomes = Counter(r.recorded_outcome for r in records if r.recorded_outcome)
    mismatches = sum(1 for r in records if r.recorded_outcome is not None
                     and r.recorded_outcome != expected_outcome(r.escalated, r.closed_as))
    conversations = {
        "started": len(records) + ledger.dropped_conversations,
        "tracked": len(records),
        "closed": sum(outcomes.values()),
        "left_open": sum(1 for r in records if r.recorded_outcome is None),
        "escalated": sum(1 for r in records if r.escalated),
        "gave_up": sum(1 for r in records if r.gave_up),
        "across_instances": sum(1 for r in records if len(r.hosts) > 1),
    }
    check = verify_turns(records, targets) if verify else None
    users = [int(r["User Count"]) for r in history if (r.get("User Count") or "").isdigit()]
    return LoadSummary(
        shape=shape, targets=list(targets), seconds=round(ledger.finished - ledger.started, 3),
        users_peak=max(users, default=0), requests=requests,
        throughput=(_float(total["Requests/s"]) or 0.0) if total else 0.0,
        messages=int(messages["Request Count"]) if messages else 0,
        messages_per_second=(_float(messages["Requests/s"]) or 0.0) if messages else 0.0,
        latency={"all": _percentiles(total), "messages": _percentiles(messages)},
        answers_by_class=dict(sorted(answers.items())), errors_by_class=errors,
        error_ratio=sum(errors.values()) / answered if answered else 0.0,
        error_ratio_by_class={k: v / answered for k, v in errors.items()},
        conversations=conversations, outcomes=dict(sorted(outcomes.items())), outcome_mismatches=mismatches,
        turns_acknowledged=sum(len(r.acked) for r in records),
        turns_lost=check.lost if check else 0,
        turns_verification=asdict(check) if check else {"skipped": True},
        steps=ledger.steps, drift=_drift(history),
        files={"stats": f"{prefix}_stats.csv", "history": f"{prefix}_stats_history.csv",
               "failures": f"{prefix}_failures.csv", "ledger": str(ledger_path)},
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


def render(summary: LoadSummary) -> Table:
    """The summary as a rich table."""
    table = Table(title=f"load: {summary.shape}, {summary.seconds:.0f} s, up to {summary.users_peak} users, "
                        f"{len(summary.targets)} target(s)")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("requests", f"{summary.requests} ({summary.throughput:.1f}/s)")
    table.add_row("messages", f"{summary.messages} ({summary.messages_per_second:.1f}/s)")
    for scope in ("messages", "all"):
        lat = summary.latency[scope]
        table.add_row(f"latency {scope} p50 / p95 / p99", " / ".join(_ms(lat[k]) for k in PERCENTILES))
    table.add_row("error ratio", f"{summary.error_ratio:.2%}")
    for name, ratio in summary.error_ratio_by_class.items():
        table.add_row(f"  {name}", f"{summary.errors_by_class[name]} ({ratio:.2%})")
    conv = summary.conversations
    table.add_row("conversations", f"{conv['started']} started, {conv['closed']} closed, {conv['left_open']} open")
    table.add_row("  escalated", str(conv["escalated"]))
    table.add_row("  on more than one instance", str(conv["across_instances"]))
    table.add_row("outcomes recorded", ", ".join(f"{k} {v}" for k, v in summary.outcomes.items()) or "—")
    if summary.outcome_mismatches:
        table.add_row("[red]outcomes not as expected[/]", str(summary.outcome_mismatches))
    verified = summary.turns_verification
    checked = "not checked" if verified.get("skipped") else f"{verified['conversations']} conversations read back"
    style = "green" if summary.turns_lost == 0 else "bold red"
    table.add_row("turns acknowledged", f"{summary.turns_acknowledged} ({checked})")
    table.add_row("turns lost", f"[{style}]{summary.turns_lost}[/]")
    if not verified.get("skipped") and verified.get("unreadable"):
        table.add_row("[yellow]conversations not readable[/]", str(verified["unreadable"]))
    drift = summary.drift
    if drift.get("p99_first_fifth") is not None:
        table.add_row("message p99 first → last fifth",
                      f"{_ms(drift['p99_first_fifth'])} → {_ms(drift['p99_last_fifth'])}")
    return table
