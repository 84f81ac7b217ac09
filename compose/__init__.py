"""Generated configs of the docker compose stack (``compose/``), from the spec.

* ``compose/generated/alertmanager.yaml``: the spec's Alertmanager routing, with every receiver
  URL pointed at the ``alert-webhook`` service (``agentwatch.local.webhook``). Built by the alerts
  generator itself (``alertmanager_config``) on a copy of the spec, so routing, grouping and
  inhibition stay identical to ``alerts/generated/alertmanager.yaml``.

The ``compose`` family of ``agentwatch.families`` (the Collector config is the ``collector`` family).

Usage::

    files = render(load_spec("agentwatch.yaml"))   # pure
"""

from __future__ import annotations

from agentwatch.alerts.alertmanager import alertmanager_config
from agentwatch.spec import Spec
from agentwatch.spec.model import Receiver

__all__ = [
    "ALERTMANAGER_CONFIG",
    "RECEIVERS",
    "WEBHOOK_URL",
    "compose_alertmanager",
    "compose_spec",
    "render",
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


def compose_alertmanager(spec: Spec, webhook_url: str = WEBHOOK_URL) -> str:
    """The Alertmanager config of the compose stack."""
    note = f"# compose variant: receivers point at {webhook_url} (agentwatch generate compose)\n"
    return note + alertmanager_config(compose_spec(spec, webhook_url))


def render(spec: Spec) -> dict[str, str]:
    """Every generated compose-stack file, keyed by path relative to the output root."""
    return {ALERTMANAGER_CONFIG: compose_alertmanager(spec)}
