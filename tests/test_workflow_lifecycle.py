"""The whole lifecycle on Temporal's time-skipping test server, with the embedded adapters."""

from datetime import timedelta

from activities.simulated_gateway import SimulatedGateway
from domain import commands as cmd
from tests.support import Harness, decisions, order, parcels
from workflows.style_trial import StyleTrialWorkflow as W

DAY = timedelta(days=1)


async def test_thirty_piece_trial_charges_exactly_the_kept_pieces(harness: Harness, gateway: SimulatedGateway):
    o = order(30, price=lambda i: 100_000 + i * 1_000)
    prices = {p.piece_id: p.price for p in o.pieces}
    ids = list(prices)
    trial = await harness.start_on_trial(o, groups=[ids[:10], ids[10:20], ids[20:]])
    keep, ret = ids[:12], ids[12:]
    await trial.send(W.decide, decisions(keep=keep, ret=ret))

    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    kept_total = sum(prices[p] for p in keep)
    assert view.amounts.charged == kept_total
    assert gateway.total(trial.trial_id, "capture") == kept_total

    await trial.send(W.ship_return, cmd.ReturnShipped(piece_ids=ret, carrier="DHL", tracking_number="RET1"))
    for pid in ret:
        await trial.send(W.inspect, cmd.Inspection(piece_id=pid, condition="ok"))
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert result.amounts.charged == kept_total
    assert {p.piece_id: p.state for p in result.pieces} == {**dict.fromkeys(keep, "KEPT"), **dict.fromkeys(ret, "RETURNED")}
    assert gateway.held(trial.trial_id) == 0
    assert gateway.total(trial.trial_id, "charge") == 0
