"""How much one pod takes at the SLO, and what to request for it.

- :mod:`.run` — ``agentwatch capacity``: one pinned agent, the ``ramp`` load shape, scrapes every second;
- :mod:`.analysis` — steps → capacity, knee and the autoscaling targets (the documented rule);
- :mod:`.recommend` — KRR-style requests and limits from a profile (Prometheus or a capacity run);
- :mod:`.plot`, :mod:`.fragment` — the PNG and the spec fragment.
"""
