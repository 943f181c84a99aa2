"""A client's whole story and a shopper's open trials over HTTP on the dev server, and from the CLI: support
reads any client; a personal shopper signed in with their own token reads their own clients and their own
list, and nobody else's (another shopper's client is a 404: not even its existence leaks)."""

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.testing import WorkflowEnvironment

from bootstrap import build_api, build_worker, default_adapters
from config import Settings
from domain.examples import order
from persistence.migrate import upgrade
from soak.processes import BIN
from tests.oidc import jwks_provider
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
ISSUER, AUDIENCE = "https://sso.example-retailer.test", "styletrial-api"
F = {"Authorization": "Bearer tok-f"}
S = {"Authorization": "Bearer tok-s"}
STATIC_SHOPPER = {"Authorization": "Bearer tok-shop"}


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    with jwks_provider() as served:
        yield served


def shopper(key: rsa.RSAPrivateKey, sub: str) -> dict[str, str]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "exp": int(time.time()) + 600,
        "groups": ["styletrial-shopper"],
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': 'k1'})}"}


def _order(client: str, sizes: list[tuple[str, str]], price: int) -> dict[str, Any]:
    o = order(len(sizes), customer_id=client, price=price)
    pieces = [p.model_copy(update={"designer": d, "size": s}) for p, (d, s) in zip(o.pieces, sizes, strict=True)]
    return o.model_copy(update={"pieces": pieces}).model_dump(mode="json")


async def test_support_and_the_client_s_own_shopper_read_the_story_and_the_shopper_s_list(
    provider: tuple[str, rsa.RSAPrivateKey], dev_env: WorkflowEnvironment, tmp_path
):
    jwks_url, key = provider
    url = f"sqlite:///{tmp_path / 'story.sqlite'}"
    settings = Settings(
        task_queue=f"story-{uuid.uuid4()}", data_dir=tmp_path, database_url=url,
        api_tokens={"tok-f": "fulfilment", "tok-s": "support", "tok-shop": "shopper"},
        api_oidc_jwks_url=jwks_url, api_oidc_issuer=ISSUER, api_oidc_audience=AUDIENCE,
    )  # fmt: skip
    upgrade(url)
    adapters = default_adapters(settings)
    client = f"cus-{uuid.uuid4().hex[:8]}"
    kept = _order(client, [("Loro Piana", "IT 40"), ("Loro Piana", "IT 42")], 100_000)
    open_ = _order(client, [("Brioni", "50")], 80_000)
    async with build_worker(dev_env.client, settings.task_queue, adapters):
        app = build_api(settings, dev_env.client, adapters.store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            for o in (kept, open_):
                assert (await api.post("/v1/trials", json=o, headers=F)).status_code == 201

            async def status_of(o: dict[str, Any], *wanted: str) -> bool:
                r = await api.get(f"/v1/trials/{o['order_id']}", headers=F)
                return r.status_code == 200 and r.json()["status"] in wanted

            for o in (kept, open_):
                base = f"/v1/trials/{o['order_id']}"
                await eventually(partial(status_of, o, "AWAITING_DISPATCH"), "the trial to open")
                parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": [p["piece_id"] for p in o["pieces"]]}
                assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
                assert (
                    await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
                ).status_code == 200
            base = f"/v1/trials/{kept['order_id']}"
            said = {
                "decisions": [
                    {"piece_id": "p1", "decision": "keep", "feedback": "Perfect."},
                    {"piece_id": "p2", "decision": "return", "reason": "too_small", "feedback": "Tight."},
                ],
                "actor": "client", "channel": "whatsapp",
            }  # fmt: skip
            assert (await api.post(f"{base}/decisions", json=said, headers=F)).status_code == 200
            assert (await api.post(f"{base}/finish", json={}, headers=F)).status_code == 200
            back = {"piece_ids": ["p2"], "carrier": "DHL", "tracking_number": "R1"}
            assert (await api.post(f"{base}/returns", json=back, headers=F)).status_code == 200
            ok = {"piece_id": "p2", "condition": "ok"}
            assert (await api.post(f"{base}/inspections", json=ok, headers=F)).status_code == 200
            await eventually(lambda: status_of(kept, "COMPLETED"), "the first trial to complete")

            r = await api.get(f"/v1/customers/{client}", headers=S)
            assert r.status_code == 200, r.text
            story = r.json()
            assert story["trials_total"] == 2 and (story["decided"], story["kept"]) == (2, 1)
            assert story["spend_kept"] == [{"currency": "GBP", "amount": 100_000}]
            assert [t["order_id"] for t in story["open_trials"]] == [open_["order_id"]]
            assert story["open_holds"] == [{"order_id": open_["order_id"], "currency": "GBP", "amount": 80_000}]
            assert {(s["size"], s["kept"], s["returned"]) for s in story["sizes"]} == {("IT 40", 1, 0), ("IT 42", 0, 1)}
            assert {w["words"] for w in story["words"]} == {"Perfect.", "Tight."}
            # The client's own shopper (ps-07) reads it; another shopper, or a shopper's static token, not.
            mine, theirs = shopper(key, "ps-07"), shopper(key, "ps-09")
            assert (await api.get(f"/v1/customers/{client}", headers=mine)).json() == story
            r = await api.get(f"/v1/customers/{client}", headers=theirs)
            assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_customer"
            assert (await api.get(f"/v1/customers/{client}", headers=STATIC_SHOPPER)).status_code == 403
            assert (await api.get(f"/v1/customers/{client}", headers=F)).status_code == 403
            assert (await api.get("/v1/customers/cus-nobody", headers=S)).status_code == 404
            assert (await api.get("/v1/customers/a%20b", headers=S)).status_code == 422
            assert (await api.get("/v1/trials", headers=mine)).status_code == 403, "a shopper lists no trials"

            r = await api.get("/v1/shoppers/ps-07/trials", headers=mine)
            assert r.status_code == 200, r.text
            listed = {t["order_id"]: t for t in r.json()["trials"]}
            assert listed[open_["order_id"]]["undecided"] == 1 and kept["order_id"] not in listed
            assert (await api.get("/v1/shoppers/ps-07/trials", headers=theirs)).status_code == 403
            assert (await api.get("/v1/shoppers/ps-07/trials", headers=S)).status_code == 200

    env = {**os.environ, "STYLETRIAL_DATABASE_URL": url, "STYLETRIAL_DATA_DIR": str(tmp_path)}
    cli = subprocess.run(
        [str(BIN / "styletrial"), "customer", "show", client, "--json"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == story
    text = subprocess.run(
        [str(BIN / "styletrial"), "customer", "show", client], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert "kept 1 of 2 decided (50%)" in text and "IT 42" in text and "Tight." in text
    listed_text = subprocess.run(
        [str(BIN / "styletrial"), "shopper", "trials", "ps-07"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert open_["order_id"] in listed_text and "UNDECIDED" in listed_text
    nobody = subprocess.run(
        [str(BIN / "styletrial"), "customer", "show", "cus-nobody"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert nobody.returncode == 1 and "No trial of client" in nobody.stderr
    adapters.store.engine.dispose()
