"""How a trial looks in the Temporal UI: its summary and details at start, its current details as it goes.

Presentation for staff, kept beside the workflow that publishes it (the search attributes staff filter on
are declared in workflows/search_attributes.py). Ids, amounts and dates only: descriptions are product
text, never a client's name or contact.
"""

from datetime import datetime

from domain.money import format_money
from domain.view import TrialView
from domain.workflow_io import StartTrial


def static_summary(start: StartTrial) -> str:
    o = start.order
    return f"Order {o.order_id} · {len(o.pieces)} pieces · {format_money(o.value, o.currency)} · {o.customer.tier}"


def static_details(start: StartTrial) -> str:
    o = start.order
    rows = "\n".join(
        f"| {p.piece_id} | {p.sku} | {p.description} | {format_money(p.price, o.currency)} |" for p in o.pieces
    )
    return (
        f"Customer `{o.customer.id}` ({o.customer.tier}, {o.customer.region}), shopper `{o.customer.personal_shopper_id or '-'}`\n\n"
        f"| Piece | SKU | Description | Price |\n|---|---|---|---:|\n{rows}"
    )


def details_markdown(view: TrialView) -> str:
    """The trial at a glance for the Temporal UI's current details: deadlines, money, every piece."""

    def money(amount: int) -> str:
        return format_money(amount, view.currency)

    def when(d: datetime | None) -> str:
        return f"{d:%d %b %H:%M} UTC" if d else "not yet"

    lines = [f"**{view.summary()}**", ""]
    # What the trial needs staff for, with its age and owner, as the attention queue (GET /v1/attention) has it.
    for item in view.attention_items:
        owner = f"{item.assignee} has it" if item.assignee else "unassigned"
        since = f"since {when(item.since)}, " if item.since else ""
        lines.append(f"- ⚠ **{item.reason.replace('_', ' ')}**: {item.text} ({since}{owner})")
    a = view.amounts
    lines += [
        f"- Trial ends: {when(view.trial_ends_at)} · returns due: {when(view.return_deadline)}"
        + (f" · extended {view.extension_days} day(s)" if view.extension_days else ""),
        f"- Money: authorized {money(a.authorized)} · charged {money(a.charged)} · released {money(a.released)}"
        f" · still chargeable {money(a.outstanding)}",
        "",
        "| Piece | Description | State | Decision | Price |",
        "|---|---|---|---|---:|",
    ]
    for p in view.pieces:
        decided = f"{p.decision} ({p.decided_via})" if p.decision and p.decided_via else (p.decision or "–")
        lines.append(f"| {p.piece_id} | {p.description} | {p.state} | {decided} | {money(p.price)} |")
    return "\n".join(lines)
