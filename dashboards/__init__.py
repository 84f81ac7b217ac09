"""agentwatch.dashboards: the Grafana dashboards as code (grafanalib), their export and renders.

The generator is ``agentwatch.dashboards.export.render`` (the ``dashboards`` family); this package
imports nothing at import time, so ``agentwatch.dashboards.grafana`` and the renderer can be used
without pulling in grafanalib.
"""
