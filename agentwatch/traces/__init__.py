"""Traces a person can look at without Jaeger: OTLP JSON lines in, waterfall PNG and terminal tree out.

A viewer of what was exported, not a trace store: :mod:`.otlp_json` reads and writes the
Collector's file-exporter format, :mod:`.waterfall` picks a trace and draws it.
"""
