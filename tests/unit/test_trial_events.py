"""The trial events' catalogue: every audit entry the domain writes has a type, the published JSON Schema is
the models' own, and nothing personal reaches a payload."""

import json
import re
from pathlib import Path

from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.order import Address
from domain.trial_events import EventType, TrialEvent, schemas, trial_events, type_of
from domain.view import view_of
from tests.domain_support import Driver

ROOT = Path(__file__).resolve().parents[2]


def test_the_published_schemas_are_the_models_own_one_per_type():
    published = json.loads((ROOT / "docs" / "trial-events.schema.json").read_text())
    assert published == schemas(), "regenerate docs/trial-events.schema.json (docs/integrations.md says how)"
    assert set(published) == {t.value for t in EventType}
    decided = published["trial.decided"]
    assert decided["properties"]["type"] == {"const": "trial.decided", "title": "Type"}
    assert decided["properties"]["data"] == TrialEvent.model_json_schema()["properties"]["data"]


def test_every_kind_the_domain_records_has_a_type():
    written = set()
    for path in (ROOT / "domain").glob("*.py"):
        written |= set(re.findall(r'\.event\(\s*\w+,\s*"([a-z_]+)"', path.read_text()))
    assert written, "the pattern no longer finds the domain's audit entries"
    untyped = sorted(k for k in written if type_of(k) is EventType.OTHER)
    assert not untyped, f"give these a type in domain/trial_events.py: {untyped}"


def test_a_payload_carries_ids_states_and_amounts_never_what_people_typed():
    address = Address(
        name="Ada Lovelace", line1="12 St James's Square", city="London", postal_code="SW1Y 4JH", country="GB"
    )
    d = Driver(order(3).model_copy(update={"shipping_address": address}))
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.trial.decide(decisions(keep=["p1"], ret=["p2"]), d.now)
    view = view_of(d.trial)
    events = trial_events(view, view.events)
    assert [e.data.seq for e in events] == [e.seq for e in view.events]
    assert len({e.id for e in events}) == len(events)
    body = " ".join(e.model_dump_json() for e in events)
    for e in view.events:
        assert e.detail not in body
    for personal in ("Ada Lovelace", "St James", "SW1Y"):
        assert personal not in body
