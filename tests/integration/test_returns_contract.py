"""The returns port's contract, on both adapters: the embedded provider (its labels in SQLite and PostgreSQL)
and the EasyPost adapter against a loopback stand-in of EasyPost's HTTP API. Both answer a booking with a
carrier, a tracking number and a label link; a retried booking is the same booking, never a second one
bought; a provider's refusal is an answer, not an error."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from activities.easypost_returns import EasyPostReturns, InMemoryProgress
from activities.returns import DEFAULT_WAREHOUSE, LocalReturns, ReturnsProvider, TransientReturnsError
from domain.order import Address
from domain.steps import BookingKind, ReturnBookingRequest
from persistence.db import make_engine
from persistence.return_labels import SqlBookingProgress, SqlLabelBook
from tests.easypost_standin import KEY, EasyPostStandIn

CLIENT = Address(name="Client Name", line1="1 Mount Street", city="London", postal_code="W1K 3NA", country="GB")
SLOT = datetime(2026, 12, 9, 9, tzinfo=UTC)


def request(key: str, kind: BookingKind = "collection", address: Address = CLIENT) -> ReturnBookingRequest:
    return ReturnBookingRequest(
        key=key, trial_id="style-trial-A-1", order_id="A-1", kind=kind, piece_ids=["p2", "p3"],
        address=address, slot_starts_at=SLOT if kind == "collection" else None,
        slot_ends_at=SLOT + timedelta(hours=4) if kind == "collection" else None,
    )  # fmt: skip


@pytest.fixture
async def standin() -> AsyncIterator[tuple[EasyPostStandIn, str]]:
    api = EasyPostStandIn()
    async with api.running() as base:
        yield api, base


@pytest.fixture(params=["local", "easypost"])
async def provider(request: pytest.FixtureRequest, db_url: str, standin) -> ReturnsProvider:
    engine = make_engine(db_url)
    if request.param == "local":
        return LocalReturns(SqlLabelBook(engine), "https://trials.example.com")
    _api, base = standin
    return EasyPostReturns(KEY, DEFAULT_WAREHOUSE, base, SqlBookingProgress(engine))


@pytest.mark.parametrize("kind", ["collection", "label"])
async def test_a_booking_answers_carrier_tracking_and_label_and_a_retry_is_the_same_booking(provider, kind):
    first = await provider.book(request(f"k-{kind}", kind))
    assert first.booked and first.carrier and first.tracking_number and first.label_url
    assert first.label_url.startswith("https://")
    assert await provider.book(request(f"k-{kind}", kind)) == first
    other = await provider.book(request(f"k-{kind}-2", kind))
    assert other.tracking_number != first.tracking_number


async def test_the_local_label_is_a_pdf_with_the_tracking_number_found_by_its_link(db_url):
    book = SqlLabelBook(make_engine(db_url))
    result = await LocalReturns(book, "https://trials.example.com").book(request("k-pdf"))
    assert result.label_url is not None
    label = book.by_token(result.label_url.rsplit("/", 1)[1])
    assert label is not None and label.pdf.startswith(b"%PDF-") and label.tracking_number == result.tracking_number
    assert result.tracking_number is not None and result.tracking_number.encode() in label.pdf
    assert label.slot_starts_at == SLOT and book.by_token("x" * 32) is None


async def test_easypost_buys_a_return_shipment_and_a_pickup_in_the_slot(standin):
    api, base = standin
    result = await EasyPostReturns(KEY, DEFAULT_WAREHOUSE, base).book(request("k-ep"))
    (shipment,) = api.shipments.values()
    (pickup,) = api.pickups.values()
    assert shipment["is_return"] and shipment["reference"] == "k-ep" and shipment["from_address"]["zip"] == "W1K 3NA"
    assert shipment["selected_rate"]["carrier"] == "DHLExpress", "the lowest rate"
    assert pickup["status"] == "scheduled" and pickup["min_datetime"].startswith("2026-12-09T09:00")
    assert (result.carrier, result.tracking_number) == ("DHLExpress", shipment["tracking_code"])


async def test_easypost_after_a_buy_whose_answer_was_lost_resumes_without_buying_again(standin):
    api, base = standin
    adapter = EasyPostReturns(KEY, DEFAULT_WAREHOUSE, base, InMemoryProgress())
    api.fail_next_buy = True  # the shipment is bought, the answer lost: the activity retries
    with pytest.raises(TransientReturnsError):
        await adapter.book(request("k-crash"))
    result = await adapter.book(request("k-crash"))
    assert result.booked and len(api.shipments) == 1
    assert sorted(api.bought) == sorted([*api.shipments, *api.pickups]), "each bought once"


async def test_easypost_refusing_an_address_is_a_failed_booking_not_an_error(standin):
    api, base = standin
    nowhere = CLIENT.model_copy(update={"postal_code": "00000"})
    result = await EasyPostReturns(KEY, DEFAULT_WAREHOUSE, base).book(request("k-refused", address=nowhere))
    assert not result.booked and result.failure_code == "easypost_422"
    assert result.failure_message and "verify address" in result.failure_message and not api.bought
    far = CLIENT.model_copy(update={"country": "AQ"})
    unserved = await EasyPostReturns(KEY, DEFAULT_WAREHOUSE, base).book(request("k-far", address=far))
    assert (unserved.booked, unserved.failure_code) == (False, "no_rates") and not api.bought


async def test_easypost_unreachable_is_retried_and_a_wrong_key_is_a_failed_booking_staff_hear_of(standin):
    _api, base = standin
    with pytest.raises(TransientReturnsError):
        await EasyPostReturns(KEY, DEFAULT_WAREHOUSE, "http://127.0.0.1:9/v2").book(request("k-down"))
    wrong_key = await EasyPostReturns("wrong", DEFAULT_WAREHOUSE, base).book(request("k-key"))
    assert not wrong_key.booked and wrong_key.failure_code == "easypost_401"
