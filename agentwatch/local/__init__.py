"""Real local processes on loopback: redis-server, Prometheus, Alertmanager, agents, an OTLP
receiver and an Alertmanager webhook receiver.

The demo, the benchmarks, ``agentwatch capacity``/``lab`` and the tests all start services through
this package; nothing here is a fake.
"""
