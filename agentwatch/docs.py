"""README sections generated from the code, so the docs cannot drift from it.

``agentwatch generate all`` rewrites what stands between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` in README.md; a test regenerates and diffs it like any other artefact.
"""

from __future__ import annotations

import re
from pathlib import Path

from agentwatch.telemetry import catalogue as c

__all__ = ["catalogue_markdown", "replace_section", "write_readme"]


def _fmt_bound(bound: float) -> str:
    return f"{bound:g}"


def catalogue_markdown() -> str:
    """The metric catalogue as a Markdown table (name, kind, labels, buckets, help)."""
    rows = ["| metric | kind | labels | buckets | meaning |", "|---|---|---|---|---|"]
    for m in c.METRICS:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        buckets = ", ".join(_fmt_bound(b) for b in m.buckets) if m.buckets else "—"
        rows.append(f"| `{m.name}` | {m.kind} | {labels} | {buckets} | {m.help} |")
    rows.append("")
    rows.append("Closed label values: " + "; ".join(
        f"`{d.name}` ∈ {{{', '.join(d.values)}}}" for d in c.LABELS.values()
        if d.values is not None and d.name != "code") + "; `code` is the HTTP status (100-599); "
        "`route`, `model` and `version` are closed per process (route templates, configured model "
        "names, the running version). Anything else is folded into `other`.")
    return "\n".join(rows)


def replace_section(text: str, name: str, body: str) -> str:
    """Replace the text between the ``name`` markers; raise if they are missing."""
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no <!-- {name}:begin --> ... <!-- {name}:end --> markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text, count=1)


def write_readme(readme: str | Path = "README.md") -> list[Path]:
    """Rewrite the generated sections of ``readme``; returns it if it changed.

    A README without the markers (another project's spec folder) is left alone.
    """
    path = Path(readme)
    text = path.read_text() if path.is_file() else ""
    if "<!-- catalogue:begin -->" not in text:
        return []
    new = replace_section(text, "catalogue", catalogue_markdown())
    if new == text:
        return []
    path.write_text(new)
    return [path]
