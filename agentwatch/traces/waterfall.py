"""One trace as a waterfall: PNG (matplotlib) and a terminal tree (rich).

Picks a trace out of exported spans (:func:`slowest_trace`, :func:`failed_trace`), orders its
spans depth-first by start time (:func:`layout`) and draws each as a bar from the root's start,
labelled with its name, duration and the attributes worth reading (batch size, turn, status,
error type, intent...). Failed spans are red. It draws what was exported and nothing else.

Usage::

    spans = read_spans("demo-output/spans.jsonl")
    trace_id = slowest_trace(spans)
    rows = layout(spans, trace_id)                 # [(span, depth), ...]
    draw_waterfall(rows, "slowest.png"); Console().print(terminal_tree(rows))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.text import Text
from rich.tree import Tree

from agentwatch.telemetry import genai
from agentwatch.traces.otlp_json import Span

__all__ = ["ATTRIBUTES", "by_trace", "draw_waterfall", "failed_trace", "label", "layout", "roots", "slowest_trace",
           "terminal_tree"]

#: Attributes shown beside a span, with their short names (others stay in the file): operational, no content.
ATTRIBUTES = {genai.BATCH_SIZE: "batch_size", genai.QUEUE_WAIT_SECONDS: "queued_s",
              "agentwatch.conversation.turn": "turn", "http.response.status_code": "status",
              genai.ERROR_TYPE: "error", "agentwatch.intent": "intent",
              "agentwatch.escalation.reason": "escalation", genai.OPERATION_NAME: "operation",
              genai.USAGE_INPUT_TOKENS: "input_tokens", genai.USAGE_OUTPUT_TOKENS: "output_tokens"}
Row = tuple[Span, int]


def by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    grouped: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        grouped[span.trace_id].append(span)
    return dict(grouped)


def roots(spans: Sequence[Span]) -> list[Span]:
    """Spans whose parent is not among ``spans`` (the root, or orphans of a partial export)."""
    ids = {s.span_id for s in spans}
    return [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids]


def _root_duration(spans: Sequence[Span]) -> float:
    return max((s.duration_s for s in roots(spans)), default=0.0)


def slowest_trace(spans: Iterable[Span]) -> str | None:
    """The trace whose root span took longest."""
    traces = by_trace(spans)
    return max(traces, key=lambda t: _root_duration(traces[t]), default=None)


def failed_trace(spans: Iterable[Span]) -> str | None:
    """The slowest of the traces with a failed (status ERROR) span."""
    traces = {t: s for t, s in by_trace(spans).items() if any(x.failed for x in s)}
    return max(traces, key=lambda t: _root_duration(traces[t]), default=None)


def layout(spans: Iterable[Span], trace_id: str) -> list[Row]:
    """The trace's spans depth-first, children by start time, with their depth."""
    mine = [s for s in spans if s.trace_id == trace_id]
    if not mine:
        raise KeyError(f"no span of trace {trace_id}")
    children: dict[str, list[Span]] = defaultdict(list)
    for span in mine:
        children[span.parent_span_id].append(span)
    rows: list[Row] = []

    def visit(span: Span, depth: int) -> None:
        rows.append((span, depth))
        for child in sorted(children.get(span.span_id, []), key=lambda s: s.start_ns):
            visit(child, depth + 1)

    for root in sorted(roots(mine), key=lambda s: s.start_ns):
        visit(root, 0)
    return rows


def label(span: Span) -> str:
    """``name`` plus the attributes worth showing, e.g. ``inference  batch_size=8``."""
    shown = [f"{short}={span.attributes[key]}" for key, short in ATTRIBUTES.items() if key in span.attributes]
    return span.name + (f"  [{', '.join(shown)}]" if shown else "")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def terminal_tree(rows: Sequence[Row], width: int = 30) -> Tree:
    """A rich tree of the trace: duration, a bar placed on the root's time axis, attributes."""
    start = min(s.start_ns for s, _ in rows)
    total = max(max(s.end_ns for s, _ in rows) - start, 1)
    head = rows[0][0]
    tree = Tree(Text(f"trace {head.trace_id}  {_ms(total / 1e9)}  {head.resource.get('service.name', '')}",
                     style="bold"))
    parents: dict[int, Tree] = {-1: tree}
    for span, depth in rows:
        left = round((span.start_ns - start) / total * width)
        length = max(1, round((span.end_ns - span.start_ns) / total * width))
        left = min(left, width - 1)
        bar = " " * left + "█" * max(1, min(length, width - left))
        text = Text()
        text.append(f"{bar:<{width}} ", style="red" if span.failed else "cyan")
        text.append(f"{_ms(span.duration_s):>10}  ", style="red" if span.failed else "")
        text.append(label(span), style="bold red" if span.failed else "")
        node = parents[depth - 1].add(text)
        parents[depth] = node
    return tree


def draw_waterfall(rows: Sequence[Row], path: str | Path, title: str = "") -> Path:
    """The trace as horizontal bars on a millisecond axis (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = min(s.start_ns for s, _ in rows)
    total_ms = max(max(s.end_ns for s, _ in rows) - start, 1) / 1e6
    fig, ax = plt.subplots(figsize=(12, 0.5 * len(rows) + 1.6))
    for i, (span, depth) in enumerate(rows):
        left = (span.start_ns - start) / 1e6
        width = max((span.end_ns - span.start_ns) / 1e6, total_ms / 400)
        color = "#d62728" if span.failed else ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf"][depth % 5]
        ax.barh(i, width, left=left, height=0.6, color=color)
        text = f"{'  ' * depth}{label(span)}  ({span.duration_s * 1000:.1f} ms)"
        gap = 0.01 * total_ms
        if width > total_ms * 0.55:  # a long bar holds its label
            ax.text(left + gap, i, text, va="center", fontsize=8, color="white")
        elif left + width / 2 > total_ms / 2:  # a bar on the right: label to its left
            ax.text(left - gap, i, text, va="center", ha="right", fontsize=8)
        else:
            ax.text(left + width + gap, i, text, va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{span.span_id[:8]}" for span, _ in rows], fontsize=7, family="monospace")
    ax.invert_yaxis()
    ax.set_xlim(0, total_ms * 1.02)
    ax.set_xlabel("milliseconds since the trace started")
    head = rows[0][0]
    ax.set_title(title or f"trace {head.trace_id} ({total_ms:.1f} ms)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
