"""Grafana provisioning YAML: the Prometheus and Jaeger datasources and the dashboards provider.

Format: grafana/grafana ``docs/sources/administration/provisioning/index.md``. Exemplars: the
Prometheus datasource's ``jsonData.exemplarTraceIdDestinations`` turns the exemplar label
``trace_id`` (what ``agentwatch.telemetry`` records) into an internal link to the Jaeger datasource
uid. URLs are the compose stack's service names; the container paths are where the compose stack
mounts ``dashboards/generated/provisioning`` and ``dashboards/provisioning``.
"""

from __future__ import annotations

from agentwatch.artefacts import dump_yaml
from agentwatch.dashboards.config import JAEGER_UID, PROMETHEUS_UID, TAG
from agentwatch.telemetry.catalogue import EXEMPLAR_TRACE_ID

__all__ = [
    "DASHBOARDS_CONTAINER_PATH",
    "JAEGER_URL",
    "PROMETHEUS_URL",
    "SCRAPE_INTERVAL",
    "dashboards_provider",
    "datasources",
]

PROMETHEUS_URL = "http://prometheus:9090"
JAEGER_URL = "http://jaeger:16686"
#: Grafana's "scrape interval" for the datasource: the floor of ``$__interval`` and 1/4 of
#: ``$__rate_interval``'s floor. Matches the compose stack's Prometheus scrape interval.
SCRAPE_INTERVAL = "15s"
DASHBOARDS_CONTAINER_PATH = "/var/lib/grafana/dashboards/agentwatch"


def datasources() -> str:
    """``provisioning/datasources/agentwatch.yaml``."""
    return dump_yaml({
        "apiVersion": 1,
        "datasources": [
            {"name": "Prometheus", "type": "prometheus", "uid": PROMETHEUS_UID, "access": "proxy",
             "url": PROMETHEUS_URL, "isDefault": True, "editable": False,
             "jsonData": {
                 "httpMethod": "POST",
                 "timeInterval": SCRAPE_INTERVAL,
                 "prometheusType": "Prometheus",
                 "exemplarTraceIdDestinations": [
                     {"name": EXEMPLAR_TRACE_ID, "datasourceUid": JAEGER_UID,
                      "urlDisplayLabel": "Trace in Jaeger"},
                 ],
             }},
            {"name": "Jaeger", "type": "jaeger", "uid": JAEGER_UID, "access": "proxy", "url": JAEGER_URL,
             "editable": False, "jsonData": {"nodeGraph": {"enabled": True}}},
        ],
    })


def dashboards_provider() -> str:
    """``provisioning/dashboards/agentwatch.yaml``: load the provisioning-form JSON into a folder."""
    return dump_yaml({
        "apiVersion": 1,
        "providers": [
            {"name": TAG, "orgId": 1, "folder": "agentwatch", "folderUid": TAG, "type": "file",
             "disableDeletion": True, "updateIntervalSeconds": 30, "allowUiUpdates": False,
             "options": {"path": DASHBOARDS_CONTAINER_PATH, "foldersFromFilesStructure": False}},
        ],
    })
