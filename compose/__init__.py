"""Generated configs of the docker compose stack (``compose/``), from the spec.

* ``compose/generated/alertmanager.yaml``: the spec's Alertmanager routing, with every receiver
  URL pointed at the ``alert-webhook`` service (``agentwatch.local.webhook``). Built by the alerts
  generator itself (``alertmanager_config``) on a copy of the spec, so routing, grouping and
  inhibition stay identical to ``alerts/generated/alertmanager.yaml``.
* ``otel-collector/generated/config.yaml``: see ``agentwatch.otel_collector``.

Usage::

    files = generate_compose(load_spec("agentwatch.yaml"), "agentwatch.yaml")   # pure
    write_compose("agentwatch.yaml")                                            # writes them
"""

from __future__ import annotations

from pathlib import Path

from agentwatch.alerts.alertmanager import alertmanager_config
from agentwatch.artefacts import write_generated
from agentwatch.otel_collector import COLLECTOR_CONFIG, collector_config
from agentwatch.spec import Spec
from agentwatch.spec.model import Receiver

__all__ = [
    "ALERTMANAGER_CONFIG",
    "RECEIVERS",
    "WEBHOOK_URL",
    "compose_alertmanager",
    "compose_spec",
    "generate_compose",
    "write_compose",
]

ALERTMANAGER_CONFIG = "compose/generated/alertmanager.yaml"
#: The webhook logger service of compose/docker-compose.yaml.
WEBHOOK_URL = "http://alert-webhook:9094"
RECEIVERS = ("page", "ticket", "default")


def compose_spec(spec: Spec, webhook_url: str = WEBHOOK_URL) -> Spec:
    """``spec`` with each Alertmanager receiver sent to ``<webhook_url>/alerts/<receiver>``.

    ``send_resolved`` and every timing/grouping setting are kept from the spec.
    """
    am = spec.alertmanager
    receivers = {name: Receiver(url=f"{webhook_url}/alerts/{name}", send_resolved=getattr(am, name).send_resolved)
                 for name in RECEIVERS}
    return spec.model_copy(update={"alertmanager": am.model_copy(update=receivers)})


def compose_alertmanager(spec: Spec, source: str, webhook_url: str = WEBHOOK_URL) -> str:
    """The Alertmanager config of the compose stack."""
    text = alertmanager_config(compose_spec(spec, webhook_url), source)
    first, rest = text.split("\n", 1)
    note = f"# compose variant: receivers point at {webhook_url} (agentwatch generate compose)\n"
    return f"{first}\n{note}{rest}"


def generate_compose(spec: Spec, source: str) -> dict[str, str]:
    """Every generated compose-stack file, keyed by path relative to the repository root."""
    return {ALERTMANAGER_CONFIG: compose_alertmanager(spec, source),
            COLLECTOR_CONFIG: collector_config(spec, source)}


def write_compose(spec_file: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Load ``spec_file`` and write ``generate_compose`` under ``out_dir`` (default: the spec's folder)."""
    return write_generated(generate_compose, spec_file, out_dir)
