"""Alertmanager config: pages and tickets to different webhook receivers, pages inhibit tickets.

Input: the spec's ``alertmanager`` section (receiver URLs, grouping and timing). Output: the text
of an ``alertmanager.yml`` (checked with ``amtool check-config``). Routing reads the ``severity``
label every agentwatch alert carries (``page`` or ``ticket``); anything else goes to ``default``.
"""

from __future__ import annotations

from agentwatch.alerts.windows import scale
from agentwatch.alerts.writers import scaled_note
from agentwatch.artefacts import dump_yaml
from agentwatch.spec.model import Receiver, Spec

__all__ = ["alertmanager_config"]


def _receiver(name: str, receiver: Receiver) -> dict:
    return {"name": name,
            "webhook_configs": [{"url": receiver.url, "send_resolved": receiver.send_resolved}]}


def alertmanager_config(spec: Spec, time_scale: int = 1) -> str:
    am = spec.alertmanager
    timing = {key: scale(getattr(am, key), time_scale)
              for key in ("group_wait", "group_interval", "repeat_interval")}
    config = {
        "route": {
            "receiver": "default",
            "group_by": list(am.group_by),
            **timing,
            "routes": [
                {"receiver": "page", "matchers": ['severity="page"'], "continue": False},
                {"receiver": "ticket", "matchers": ['severity="ticket"'], "continue": False},
            ],
        },
        # A page already says the budget burns; the ticket for the same SLO adds nothing.
        "inhibit_rules": [{"source_matchers": ['severity="page"'], "target_matchers": ['severity="ticket"'],
                           "equal": ["service", "slo"]}],
        "receivers": [_receiver("default", am.default), _receiver("page", am.page),
                      _receiver("ticket", am.ticket)],
    }
    return scaled_note(time_scale) + dump_yaml(config)
