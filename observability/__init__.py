"""Logs, metrics and traces: what an operator watches the engine with (docs/operations.md)."""
