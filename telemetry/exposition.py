"""``/metrics`` bodies: OpenMetrics (with exemplars) when the scraper asks for it, else text 0.0.4."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client import exposition as text_format
from prometheus_client.openmetrics import exposition as openmetrics

__all__ = ["render_metrics"]


def render_metrics(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """Return ``(body, content_type)`` for a scrape with the given ``Accept`` header."""
    if accept and "application/openmetrics-text" in accept:
        return openmetrics.generate_latest(registry), openmetrics.CONTENT_TYPE_LATEST
    return text_format.generate_latest(registry), text_format.CONTENT_TYPE_LATEST
