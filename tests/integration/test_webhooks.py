"""Trial events: written to the outbox with the projection, and delivered to a real HTTP subscriber on
loopback that verifies each signature with the `standardwebhooks` reference package and dedupes by id."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from application.webhooks import LEASE, Subscriber, WebhookDispatcher
from domain.trial_events import event_id
from domain.view import TrialView
from persistence.db import make_engine
from persistence.store import SqlStore
from persistence.webhooks import WebhookQueue
from security.webhook_signing import headers, new_secret
from tests.integration.test_store import snapshots
from tests.waiting import eventually
from tests.webhook_receiver import Receiver

SECRET = new_secret()
FAST = [0.05] * 5  # five retries, 50 ms apart


@pytest.fixture
def outbox(db_url: str) -> Iterator[tuple[SqlStore, WebhookQueue]]:
    engine, projections = make_engine(db_url), make_engine(db_url, durable=False)
    yield SqlStore(engine, projections, subscribers=["oms"]), WebhookQueue(engine)
    engine.dispose()
    projections.dispose()


@pytest.fixture
def trials() -> list[list[TrialView]]:
    """Two trials, each as views at successive moments (made outside the event loop: the domain's driver
    runs its own)."""
    return [snapshots()[1], snapshots()[1]]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(SECRET)
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def dispatcher(queue: WebhookQueue, receiver: Receiver, http: httpx.AsyncClient, backoff: list[float] = FAST):
    return WebhookDispatcher(queue, [Subscriber("oms", receiver.url, [SECRET])], backoff, http)


async def deliver_all(d: WebhookDispatcher, receiver: Receiver, count: int) -> None:
    async def arrived() -> bool:
        await d.deliver_due()
        return len(receiver.events) >= count

    await eventually(arrived, f"{count} events at the subscriber", seconds=30, every=0.02)


def expected_ids(*views: TrialView) -> list[str]:
    return [event_id(v.trial_id, e.seq) for v in views for e in v.events]


def test_a_projection_writes_its_new_events_to_the_outbox_once_with_a_delivery_each(outbox):
    store, queue = outbox
    _, views = snapshots()
    store.project(1, views[0])
    store.project(2, views[1])
    store.project(2, views[1])  # a retry changes nothing
    store.project(3, views[1], whole=True)  # nor does the whole trial again
    rows = queue.deliveries(limit=100)
    assert sorted(r.seq for r in rows) == [e.seq for e in views[1].events]
    assert {r.status for r in rows} == {"pending"} and {r.subscriber for r in rows} == {"oms"}
    first = min(rows, key=lambda r: r.seq)
    assert first.type == "trial.opened"
    assert queue.depth() == {"pending": len(views[1].events), "delivered": 0, "dead": 0}


async def test_a_subscriber_gets_every_event_once_in_order_signed(outbox, receiver, http, trials):
    store, queue = outbox
    one, other = trials
    for v in (one[0], other[0]):
        store.project(1, v)
    store.project(2, one[2])
    store.project(2, other[1])
    d = dispatcher(queue, receiver, http)
    await deliver_all(d, receiver, len(one[2].events) + len(other[1].events))
    assert receiver.refused == 0
    for trial in (one[2], other[1]):
        arrived = [e for e in receiver.events if e["data"]["trial_id"] == trial.trial_id]
        assert [e["data"]["seq"] for e in arrived] == [e.seq for e in trial.events], "in order per trial"
    assert queue.depth()["pending"] == 0
    event = receiver.events[0]
    assert set(event) == {"id", "type", "version", "occurred_at", "data"}
    assert "detail" not in event["data"], "free text people typed stays out of events"


async def test_a_subscriber_that_was_away_gets_what_it_missed_in_order(outbox, receiver, http, trials):
    store, queue = outbox
    views = trials[0]
    store.project(1, views[0])
    d = dispatcher(queue, receiver, http, backoff=[0.05] * 40)
    await deliver_all(d, receiver, len(views[0].events))
    await receiver.stop()
    store.project(2, views[1])
    store.project(3, views[2])
    for _ in range(3):  # attempts while it is away fail and wait
        await d.deliver_due()
    failing = queue.deliveries(status="pending", limit=100)
    assert failing and max(r.attempts for r in failing) >= 1 and failing[0].last_error == "ConnectError"
    await receiver.start()
    await deliver_all(d, receiver, len(views[2].events))
    assert receiver.ids() == expected_ids(views[2])


async def test_a_delivery_that_keeps_failing_is_dead_holds_its_trial_back_and_can_be_replayed(
    outbox, receiver, http, trials
):
    store, queue = outbox
    views = trials[0]
    store.project(1, views[0])
    receiver.answer = 500
    d = dispatcher(queue, receiver, http, backoff=[0.01, 0.01])

    async def dead() -> bool:
        await d.deliver_due()
        return bool(queue.deliveries(status="dead"))

    await eventually(dead, "a dead delivery", every=0.02)
    [gone] = queue.deliveries(status="dead")
    assert (gone.seq, gone.attempts, gone.last_error) == (1, 3, "HTTP 500")
    receiver.answer = 204
    store.project(2, views[1])
    for _ in range(3):
        await d.deliver_due()
    assert receiver.events == [], "the trial's later events wait behind the dead one"
    assert queue.replay(gone.event_id, datetime.now(UTC)) == 1
    assert queue.replay("evt_unknown_1", datetime.now(UTC)) == 0
    await deliver_all(d, receiver, len(views[1].events))
    assert receiver.ids() == expected_ids(views[1])


async def test_an_event_sent_by_a_loop_that_died_before_recording_it_is_sent_again_with_the_same_id(
    outbox, receiver, http, trials
):
    store, queue = outbox
    views = trials[0]
    store.project(1, views[0])
    now = datetime.now(UTC)
    [claimed] = queue.claim("oms", now, LEASE)[:1]
    body = claimed.body.encode()
    # The loop sends, then dies before it records the answer (a worker SIGKILLed mid-delivery).
    await http.post(receiver.url, content=body, headers=headers([SECRET], claimed.event_id, int(now.timestamp()), body))
    assert queue.claim("oms", now, LEASE) == [], "claimed: nobody else sends it meanwhile"
    later = WebhookDispatcher(
        queue, [Subscriber("oms", receiver.url, [SECRET])], FAST, http, clock=lambda: now + LEASE + timedelta(seconds=1)
    )
    await deliver_all(later, receiver, len(views[0].events))
    assert receiver.arrivals.count(claimed.event_id) == 2, "at least once: it went again"
    assert receiver.ids() == expected_ids(views[0]), "the receiver kept it once, by webhook-id"


async def test_a_rotation_signs_with_both_secrets(receiver, http):
    old, new = new_secret(), SECRET
    body = json.dumps({"id": "evt_x_1"}).encode()
    signed = headers([old, new], "evt_x_1", int(datetime.now(UTC).timestamp()), body)
    assert len(signed["webhook-signature"].split(" ")) == 2
    assert (await http.post(receiver.url, content=body, headers=signed)).status_code == 204
    forged = headers([new_secret()], "evt_x_1", int(datetime.now(UTC).timestamp()), body)
    assert (await http.post(receiver.url, content=body, headers=forged)).status_code == 400


async def test_an_event_a_dead_task_attempt_wrote_is_corrected_until_a_subscriber_has_it(
    outbox, receiver, http, trials
):
    """The attempt that completes a workflow task replaces what a dead attempt projected (see
    test_store); the outbox follows for events no subscriber has received, and cannot for those it has."""
    store, queue = outbox
    views = trials[0]
    store.project(3000, views[0], replaces_below=4000)
    real = views[1]
    last = real.events[-1]
    dead = real.model_copy(
        update={"events": [*real.events[:-1], last.model_copy(update={"kind": "not_what_happened"})]}
    )
    store.project(21000, dead, whole=False, replaces_below=22000)
    evt = event_id(real.trial_id, last.seq)
    assert [r.type for r in queue.deliveries(trial_id=real.trial_id, limit=100) if r.event_id == evt] == ["trial.other"]
    store.project(21000, real, replaces_below=22000)  # the completing attempt: the whole trial
    d = dispatcher(queue, receiver, http)
    await deliver_all(d, receiver, len(real.events))
    assert [e["data"]["kind"] for e in receiver.events] == [e.kind for e in real.events]

    # Once delivered, an event stays as the subscriber received it.
    store.project(22000, dead, replaces_below=23000)
    assert [r.type for r in queue.deliveries(trial_id=real.trial_id, limit=100) if r.event_id == evt] == [
        receiver.events[-1]["type"]
    ]


def test_event_ids_are_ascii_whatever_script_the_order_id_is_in():
    """The id is the `webhook-id` header: an order id in another script (`注文-1`, `h-٣٤`) must not reach it."""
    for trial_id in ("style-trial-h-ＡＢＣ", "style-trial-h-٣٤", "style-trial-注文-1", "style-trial-o-1"):
        evt = event_id(trial_id, 7)
        assert evt.isascii() and evt.startswith("evt_") and evt.endswith("_7")
        assert event_id(trial_id, 7) == evt, "stable"
    assert event_id("style-trial-a", 1) != event_id("style-trial-b", 1)


def _event_with_id(store: SqlStore, view: TrialView, evt: str) -> None:
    """An event stored under the id scheme before today's (`evt_<trial id>_<seq>`), as a database upgraded
    from then holds it."""
    from sqlalchemy import delete, insert, select, update

    from persistence.models import OutboxEventRecord as O
    from persistence.models import WebhookDeliveryRecord as D

    store.project(1, view)
    first = event_id(view.trial_id, 1)
    with store.engine.begin() as c:
        body = c.scalar(select(O.body).where(O.event_id == first))
        deliveries = [dict(r._mapping) for r in c.execute(select(D.__table__).where(D.event_id == first))]
        c.execute(delete(D).where(D.event_id == first))
        c.execute(update(O).where(O.event_id == first).values(event_id=evt, body=str(body).replace(first, evt)))
        if deliveries:
            c.execute(insert(D), [{**d, "event_id": evt} for d in deliveries])


async def test_a_delivery_that_cannot_be_sent_is_recorded_retried_and_dead_and_holds_no_other_trial(
    outbox, receiver, http, trials
):
    """A bug in sending one event (here: a header httpx cannot encode, as the ids of non-ASCII order ids
    were) is that delivery's failed attempt, not a round that stops every trial's deliveries."""
    store, queue = outbox
    stuck, fine = trials
    _event_with_id(store, stuck[0], f"evt_{stuck[0].trial_id}-ＡＢＣ_1")
    store.project(1, fine[0])
    d = dispatcher(queue, receiver, http, backoff=[0.01, 0.01])
    await deliver_all(d, receiver, len(fine[0].events))
    assert {e["data"]["trial_id"] for e in receiver.events} == {fine[0].trial_id}

    async def dead() -> bool:
        await d.deliver_due()
        return bool(queue.deliveries(status="dead"))

    await eventually(dead, "the unsendable delivery to be dead", every=0.02)
    [gone] = queue.deliveries(status="dead")
    assert gone.trial_id == stuck[0].trial_id and gone.attempts == 3
    assert gone.last_error == "not sent: UnicodeEncodeError"


def test_the_migration_gives_unsendable_event_ids_a_sendable_one_and_their_deliveries_start_over(db_url):
    """Upgrading a database whose outbox holds an id with a character outside ASCII renames it (row, body,
    deliveries): those deliveries never left, and now they can."""
    from persistence.migrate import downgrade, upgrade

    engine = make_engine(db_url)
    store = SqlStore(engine, subscribers=["oms"])
    queue = WebhookQueue(engine)
    _, views = snapshots()
    view = views[0].model_copy(update={"trial_id": "style-trial-h-ＡＢＣ"})
    old = "evt_style-trial-h-ＡＢＣ_1"
    _event_with_id(store, view, old)
    queue.failed("oms", old, "not sent: UnicodeEncodeError", datetime.now(UTC), [1.0])
    downgrade(db_url, "0010")
    upgrade(db_url)
    rows = queue.deliveries(trial_id=view.trial_id, limit=100)
    new = event_id(view.trial_id, 1)
    assert new in {r.event_id for r in rows} and old not in {r.event_id for r in rows}
    renamed = next(r for r in rows if r.event_id == new)
    assert (renamed.status, renamed.attempts, renamed.last_error) == ("pending", 0, None)
    [body] = [
        json.loads(c.body)
        for c in queue.claim("oms", datetime.now(UTC) + timedelta(seconds=5), LEASE)
        if c.event_id == new
    ]
    assert body["id"] == new and all(r.event_id.isascii() for r in rows)
    engine.dispose()
