"""README sections generated from the code, so the docs cannot drift from it.

``agentwatch generate`` (every family) rewrites what stands between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` in the output root's README.md; ``--check`` reports it stale like any other
artefact.
"""

from __future__ import annotations

import re

from agentwatch.telemetry import catalogue as c

__all__ = ["README", "catalogue_markdown", "readme_update", "replace_section"]

README = "README.md"


def _fmt_bound(bound: float) -> str:
    return f"{bound:g}"


def catalogue_markdown() -> str:
    """The metric catalogue as a Markdown table (name, kind, labels, buckets, group, help)."""
    rows = ["| metric | kind | labels | buckets | group | meaning |", "|---|---|---|---|---|---|"]
    for m in c.METRICS:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        buckets = ", ".join(_fmt_bound(b) for b in m.buckets) if m.buckets else "—"
        rows.append(f"| `{m.name}` | {m.kind} | {labels} | {buckets} | `{m.group}` | {m.help} |")
    rows.append("")
    rows.append("Closed label values: " + "; ".join(
        f"`{d.name}` ∈ {{{', '.join(d.values)}}}" for d in c.LABELS.values()
        if d.values is not None and d.name != "code") + "; `code` is the HTTP status (100-599); "
        "`route`, `model`, `version`, `agentwatch_version` and `model_revision` are closed per process "
        "(route templates, configured model names, the running versions and model revision). Anything "
        "else is folded into `other`. These are the reference agent's values: an application declares "
        "its own intents, error classes, models, outcomes and escalation reasons (see *Adopt agentwatch "
        "in your agent*).")
    return "\n".join(rows)


def replace_section(text: str, name: str, body: str) -> str:
    """Replace the text between the ``name`` markers; raise if they are missing."""
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no <!-- {name}:begin --> ... <!-- {name}:end --> markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text, count=1)


def readme_update(text: str) -> tuple[str, bool] | None:
    """``text`` with its generated sections refreshed, and whether that changed it; ``None`` for a
    README without the markers (another project's), which is left alone."""
    if "<!-- catalogue:begin -->" not in text:
        return None
    new = replace_section(text, "catalogue", catalogue_markdown())
    return new, new != text
