"""Orders and commands built in one line, for the demo, the benchmarks and the tests.

Every builder makes a valid value by default and takes keywords for what a caller wants to vary, so a test
says only what matters to it: `order(30, payment_method="pm_card_chargeCustomerFail")`.
"""

import uuid
from collections.abc import Callable, Sequence

from domain import commands as cmd
from domain.order import Address, Customer, OrderPiece, TrialOrder

# Real-looking pieces for the demo: a description and a price in pence.
WARDROBE = [
    ("Double-faced cashmere overcoat", 420_000), ("Silk charmeuse slip dress", 189_000),
    ("Leather ankle boots", 98_000), ("Wool-silk tailored blazer", 265_000), ("Cashmere crewneck", 112_000),
    ("Pleated midi skirt", 145_000), ("Calfskin shoulder bag", 310_000), ("Silk twill scarf", 42_000),
    ("Merino wide-leg trousers", 88_000), ("Shearling-lined loafers", 79_000),
]  # fmt: skip


def order(
    n: int = 3,
    *,
    order_id: str | None = None,
    price: int | Callable[[int], int] = 120_000,
    pieces: Sequence[tuple[str, int]] | None = None,
    payment_method: str = "pm_card_visa",
    tier: str = "EIP",
    currency: str = "GBP",
    trial_days: int | None = None,
    customer_id: str = "cus-0042",
    shopper: str | None = "ps-07",
) -> TrialOrder:
    """`n` pieces `p1`..`pn` at `price` (or `price(i)`), or exactly the (description, price) `pieces` given."""
    described = pieces or [(f"Piece {i}", price(i) if callable(price) else price) for i in range(1, n + 1)]
    return TrialOrder(
        order_id=order_id or f"ord-{uuid.uuid4().hex[:10]}",
        customer=Customer(id=customer_id, tier=tier, region="UK", personal_shopper_id=shopper),
        currency=currency,
        pieces=[
            OrderPiece(piece_id=f"p{i}", sku=f"SKU-{i:03d}", description=description, price=amount)
            for i, (description, amount) in enumerate(described, start=1)
        ],
        payment_method=payment_method,
        shipping_address=Address(
            name="Client Name", line1="1 Mount St", city="London", postal_code="W1K", country="GB"
        ),
        trial_days=trial_days,
    )


def parcels(piece_groups: Sequence[Sequence[str]], *, carrier: str = "DHL", tracking: str = "TRK") -> cmd.Dispatch:
    """One parcel per group of piece ids, tracked `TRK1`, `TRK2`, ... (or `<tracking>1`, ...)."""
    return cmd.Dispatch(
        parcels=[
            cmd.Parcel(carrier=carrier, tracking_number=f"{tracking}{i}", piece_ids=list(group))
            for i, group in enumerate(piece_groups, start=1)
        ]
    )


def decisions(
    keep: Sequence[str] = (), ret: Sequence[str] = (), *, channel: cmd.Channel = "whatsapp", actor: str = "ps-07",
    reference: str | None = "wa-msg-1",
) -> cmd.Decisions:  # fmt: skip
    return cmd.Decisions(
        decisions=[cmd.PieceDecision(piece_id=p, decision="keep") for p in keep]
        + [cmd.PieceDecision(piece_id=p, decision="return") for p in ret],
        actor=actor,
        channel=channel,
        reference=reference,
    )
