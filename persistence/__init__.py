"""The durable record of trials: a read model for people and systems, and the money ledger.

Temporal holds each trial's live state; this database holds what must be queryable across trials and
outlive workflows. It depends on the domain's view, never the reverse.
"""
