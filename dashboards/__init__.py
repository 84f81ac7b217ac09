"""agentwatch.dashboards: the Grafana dashboards as code (grafanalib), their export and renders.

Usage::

    from agentwatch.dashboards import generate_all, write_all
    files = generate_all(spec)   # {"dashboards/generated/provisioning/agentwatch-overview.json": "...", ...}
    write_all(spec, root=".")
"""

from agentwatch.dashboards.export import BUILDERS, generate_all, write_all

__all__ = ["BUILDERS", "generate_all", "write_all"]
