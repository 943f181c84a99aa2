"""Staff who are named: people call the API with their own OpenID Connect access tokens (keys generated
here, the provider's JWKS served on loopback), machines with static tokens. A person's role comes from the
token's groups and the audit trail records the token's subject; a command naming someone else is refused
and changes nothing. On the real dev server, over HTTP."""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.testing import WorkflowEnvironment

from activities.notifications import RecordingNotifier
from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.oidc import jwks_provider
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(120)]
ISSUER, AUDIENCE = "https://sso.example-retailer.test", "styletrial-api"
MACHINE = {"Authorization": "Bearer tok-oms"}


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    with jwks_provider() as served:
        yield served


def person(key: rsa.RSAPrivateKey, sub: str, groups: Any, **claims: Any) -> dict[str, str]:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": int(time.time()) + 600, "groups": groups}
    token = jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})
    return {"Authorization": f"Bearer {token}"}


async def test_people_are_named_by_their_tokens_and_cannot_act_as_someone_else(
    provider: tuple[str, rsa.RSAPrivateKey], dev_env: WorkflowEnvironment, tmp_path
):
    jwks_url, key = provider
    url = f"sqlite:///{tmp_path / 'staff.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    settings = Settings(
        task_queue=f"staff-{uuid.uuid4()}", data_dir=tmp_path, api_tokens={"tok-oms": "fulfilment"},
        api_oidc_jwks_url=jwks_url, api_oidc_issuer=ISSUER, api_oidc_audience=AUDIENCE,
    )  # fmt: skip
    anna = person(key, "anna.conti", ["staff", "styletrial-support"])
    reader = person(key, "buyer.li", "styletrial-read")
    o = order(3)
    base = f"/v1/trials/{o.order_id}"
    try:
        async with build_worker(
            dev_env.client, settings.task_queue, Adapters(store=store, notifier=RecordingNotifier())
        ):
            app = build_api(settings, dev_env.client, store)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
                # A machine's static token: it names the actor it means.
                assert (
                    await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=MACHINE)
                ).status_code == 201

                async def status_is(status: str) -> bool:
                    return bool((await api.get(base, headers=reader)).json()["status"] == status)

                await eventually(lambda: status_is("AWAITING_DISPATCH"), "the trial to open")
                parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}
                assert (
                    await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=MACHINE)
                ).status_code == 200
                # A person recording a delivery by hand: the actor is filled in from her token.
                delivery = {"tracking_number": "T1", "reason": "Carrier scan missing; client confirmed"}
                r = await api.post(f"{base}/delivery", json=delivery, headers=anna)
                assert r.status_code == 200, r.text
                assert [e["actor"] for e in r.json()["events"] if e["kind"] == "delivered"] == ["anna.conti"]

                # Naming someone else changes nothing.
                decide = {"decisions": [{"piece_id": "p1", "decision": "keep"}], "channel": "phone"}
                r = await api.post(f"{base}/decisions", json={**decide, "actor": "marco.rossi"}, headers=anna)
                assert r.status_code == 403 and r.json()["error"]["code"] == "actor_mismatch"
                assert all(p["decision"] is None for p in (await api.get(base, headers=reader)).json()["pieces"])
                r = await api.post(f"{base}/decisions", json={**decide, "actor": "anna.conti"}, headers=anna)
                assert r.status_code == 200
                assert [e["actor"] for e in r.json()["events"] if e["kind"] == "decided"] == ["anna.conti"]
                # Leaving the actor out, as the docs say she may: it is her (this was a 422 "Field required").
                decide2 = {"decisions": [{"piece_id": "p2", "decision": "return"}], "channel": "phone"}
                r = await api.post(f"{base}/decisions", json=decide2, headers=anna)
                assert r.status_code == 200, r.text
                assert [e["actor"] for e in r.json()["events"] if e["kind"] == "decided"] == ["anna.conti"] * 2
                extension = {"days": 2, "reason": "Client travelling"}
                r = await api.post(f"{base}/extension", json=extension, headers=anna)
                assert r.status_code == 200, r.text
                assert [e["actor"] for e in r.json()["events"] if e["kind"] == "extended"] == ["anna.conti"]

                # Read-only people read, and may not command.
                r = await api.post(f"{base}/decisions", json={**decide, "actor": "buyer.li"}, headers=reader)
                assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

                # Tokens that name nobody: no mapped group, expired, another audience, another signer.
                stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                for headers in (
                    person(key, "x", ["staff"]),
                    person(key, "anna.conti", "styletrial-support", exp=int(time.time()) - 60),
                    person(key, "anna.conti", "styletrial-support", aud="temporal-ui"),
                    person(stranger, "anna.conti", "styletrial-support"),
                    {"Authorization": "Bearer not.a.jwt"},
                ):
                    r = await api.get(base, headers=headers)
                    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated", r.text

                events = (await api.get(base, headers=reader)).json()["events"]
                actors = [(e["kind"], e["actor"]) for e in events if e["actor"]]
                assert ("decided", "anna.conti") in actors and ("extended", "anna.conti") in actors, actors
                assert ("decided", "marco.rossi") not in actors
    finally:
        engine.dispose()


def test_an_api_oidc_role_that_is_not_a_role_stops_the_settings():
    with pytest.raises(ValueError, match="api_oidc_roles"):
        Settings(api_oidc_roles={"styletrial-admins": "admin"})
