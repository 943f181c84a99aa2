"""Temporal workflows. Deterministic and sandbox-safe: no clock, randomness, environment or settings."""
