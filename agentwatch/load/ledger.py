"""What a load run did, as the load generator saw it: answers by class, acknowledged turns, steps.

The Locust users write into one :class:`Recorder` per load-generator process; at the end it is
saved as ``ledger.json`` beside Locust's CSV files, and :mod:`agentwatch.load.summary` reads it
back to check every acknowledged turn against the agent's history. Pure Python (no Locust, no
gevent), so the shapes and the summary can use it anywhere.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CLOSE",
    "MESSAGE",
    "OK",
    "ConversationRecord",
    "Ledger",
    "Recorder",
    "Window",
    "nearest_rank",
]

#: The answer class of a successful request (error classes come from the API's error body).
OK = "ok"
#: Request names in Locust's statistics (one row per route, whatever the conversation id).
MESSAGE = "POST /v1/conversations/{id}/messages"
CLOSE = "POST /v1/conversations/{id}/close"


def nearest_rank(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence, as Locust reports them."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class ConversationRecord:
    """One conversation from the customer's side: the turns the agent acknowledged (HTTP 200)."""

    id: str
    persona: str
    acked: list[int] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    escalated: bool = False
    closed_as: str | None = None  # what the front end sent to /close
    recorded_outcome: str | None = None  # what the agent answered /close with
    gave_up: bool = False  # the customer left after a failed request


@dataclass(frozen=True)
class Window:
    """Message requests that ended within a time window."""

    start: float
    end: float
    messages: int
    ok: int
    good: int  # answered with 200 within the latency threshold asked for (all ok ones without one)
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    @property
    def throughput(self) -> float:
        """Messages answered with 200 per second."""
        return self.ok / self.seconds

    @property
    def error_ratio(self) -> float:
        return (self.messages - self.ok) / self.messages if self.messages else 0.0

    @property
    def good_ratio(self) -> float:
        """The latency SLI over the window: share of messages answered 200 within the threshold."""
        return self.good / self.messages if self.messages else 0.0


class Recorder:
    """Collects what the users see; bounded, so a day-long soak keeps a flat memory footprint.

    ``max_conversations``: the most recent conversations kept for the turn check (older ones are
    counted, not kept). ``max_samples``: message latencies kept for the shapes' windows.
    """

    def __init__(self, max_conversations: int = 50_000, max_samples: int = 200_000) -> None:
        self.started = time.time()
        self.answers: Counter[tuple[str, str]] = Counter()  # (request name, OK or error class)
        self.samples: deque[tuple[float, float, bool]] = deque(maxlen=max_samples)  # (end, seconds, ok)
        self.conversations: OrderedDict[str, ConversationRecord] = OrderedDict()
        self.max_conversations = max_conversations
        self.dropped_conversations = 0
        self.steps: list[dict[str, Any]] = []

    # --- written by the users ------------------------------------------------------------------

    def answer(self, name: str, answer_class: str) -> None:
        self.answers[(name, answer_class)] += 1

    def message(self, end: float, seconds: float, ok: bool) -> None:
        self.samples.append((end, seconds, ok))

    def conversation(self, cid: str, persona: str) -> ConversationRecord:
        record = ConversationRecord(cid, persona)
        self.conversations[cid] = record
        if len(self.conversations) > self.max_conversations:
            self.conversations.popitem(last=False)
            self.dropped_conversations += 1
        return record

    # --- read by the shapes ----------------------------------------------------------------------

    def window(self, start: float, end: float, threshold: float | None = None) -> Window:
        """Message requests that ended in ``[start, end)`` (wall-clock seconds); ``good`` counts the
        ones answered 200 within ``threshold`` seconds."""
        inside = [(seconds, ok) for t, seconds, ok in self.samples if start <= t < end]
        latencies = [seconds for seconds, _ in inside]
        pct = (lambda q: nearest_rank(latencies, q)) if latencies else (lambda q: None)
        ok = sum(1 for _, good in inside if good)
        good = sum(1 for seconds, fine in inside if fine and (threshold is None or seconds <= threshold))
        return Window(start, end, len(inside), ok, good, pct(50), pct(95), pct(99))

    # --- saved at the end --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        answers: dict[str, dict[str, int]] = {}
        for (name, answer_class), count in sorted(self.answers.items()):
            answers.setdefault(name, {})[answer_class] = count
        return {"started": self.started, "finished": time.time(), "answers": answers,
                "conversations": [asdict(r) for r in self.conversations.values()],
                "dropped_conversations": self.dropped_conversations, "steps": self.steps}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()))


@dataclass(frozen=True)
class Ledger:
    """A saved recorder, read back."""

    started: float
    finished: float
    answers: dict[str, dict[str, int]]
    conversations: list[ConversationRecord]
    dropped_conversations: int
    steps: list[dict[str, Any]]

    @classmethod
    def load(cls, path: str | Path) -> Ledger:
        data = json.loads(Path(path).read_text())
        return cls(data["started"], data["finished"], data["answers"],
                   [ConversationRecord(**r) for r in data["conversations"]], data["dropped_conversations"],
                   data["steps"])

    def classes(self, names: Iterable[str] | None = None) -> Counter[str]:
        """Answers by class over every request name (or only ``names``)."""
        wanted = set(names) if names is not None else None
        total: Counter[str] = Counter()
        for name, by_class in self.answers.items():
            if wanted is None or name in wanted:
                total.update(by_class)
        return total
