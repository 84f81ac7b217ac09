"""What every agentwatch dashboard shares: uid, tags, links, time and refresh defaults, tooltip."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from grafanalib import core as g

from agentwatch.dashboards.config import DASHBOARD_FILES, SCHEMA_VERSION, TAG, dashboard_uid
from agentwatch.dashboards.layout import Section, emitted_only, place

__all__ = ["build_dashboard", "dashboard_link"]


def dashboard_link(stem: str, title: str) -> dict:
    """A panel link to another agentwatch dashboard, keeping time range and variables."""
    return {"title": title, "url": f"/d/{dashboard_uid(stem)}/{stem}?${{__url_time_range}}&${{__all_variables}}"}


def build_dashboard(stem: str, description: str, sections: Sequence[Section], variables: Sequence[g.Template],
                    *, tags: Sequence[str], time_from: str, refresh: str, generated_note: str,
                    annotations: Sequence[dict] = (), emitted: Collection[str] | None = None) -> g.Dashboard:
    """A dashboard on the shared conventions; ``stem`` names the file and seeds the uid.

    ``emitted``: the metric groups the service emits; panels reading others are left out.
    """
    if emitted is not None:
        sections = emitted_only(sections, emitted)
    links = [g.DashboardLink(title="agentwatch dashboards", type="dashboards", tags=[TAG], asDropdown=True,
                             includeVars=True, keepTime=True)]
    return g.Dashboard(
        title=DASHBOARD_FILES[stem],
        uid=dashboard_uid(stem),
        description=f"{description} {generated_note}",
        tags=[TAG, *tags],
        panels=place(sections),
        templating=g.Templating(list=list(variables)),
        annotations=g.Annotations(list=list(annotations)),
        links=links,
        time=g.Time(time_from, "now"),
        refresh=refresh,
        timezone="browser",
        graphTooltip=1,  # shared crosshair
        schemaVersion=SCHEMA_VERSION,
        editable=True,
    )
