"""Realistic load: the support-queue customers as Locust users, named load shapes, a checked summary.

- :mod:`.personas` — who the customers are (pure data); :mod:`.shapes` — steady, ramp, spike, soak;
- :mod:`.locustfile` — the one locustfile (``locust -f``, or through :mod:`.runner`);
- :mod:`.runner` — ``run_load(urls, "spike", seconds=600, users=10)`` runs it headless in a child
  process and returns a :class:`~agentwatch.load.summary.LoadSummary`; ``start_load`` does not wait;
- :mod:`.summary` — Locust's CSVs + the ledger + every acknowledged turn read back (turns lost).

Needs the ``load`` extra (``pip install 'agentwatch[load]'``).
"""
