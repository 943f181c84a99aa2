"""What erasing a client leaves of a trial's view (GDPR Art. 17): the ids, states, dates and amounts the
accounts must keep (the ledger is untouched: amounts and ids are the legal retention of accounts), and
none of what the client or staff wrote about them: the client's words on the pieces, the free text of the
audit trail (notes, and what the client asked in their own words), the message references that lead back
to their conversations. The trial's events get one more: `erased`.
"""

from datetime import datetime

from domain.view import EventView, TrialView

ERASED = "[erased]"
# Audit entries whose text quotes the client, or staff's own words (a cancellation's reason).
QUOTING = frozenset({"extension_requested", "exchange_requested", "cancelled", "cancel_requested"})


def erased(view: TrialView, now: datetime) -> TrialView:
    """The view once the client's personal data is gone, with the `erased` entry at the end."""
    pieces = [p.model_copy(update={"feedback": None, "decision_reference": None}) for p in view.pieces]
    events = [
        e.model_copy(
            update={
                "detail": ERASED if e.kind in QUOTING else e.detail,
                "reason": ERASED if e.reason else None,
                "reference": None,
            }
        )
        for e in view.events
    ]
    last = events[-1].seq if events else 0
    events.append(
        EventView(
            seq=last + 1,
            at=now,
            kind="erased",
            detail="The client's personal data was erased at their request.",
            actor=None,
            channel=None,
            reference=None,
            reason=None,
            piece_ids=[],
        )
    )
    attention = {k: (ERASED if k in QUOTING else v) for k, v in view.attention.items()}
    items = [i.model_copy(update={"text": ERASED}) if i.reason in QUOTING else i for i in view.attention_items]
    return view.model_copy(
        update={"pieces": pieces, "events": events, "attention": attention, "attention_items": items}
    )
