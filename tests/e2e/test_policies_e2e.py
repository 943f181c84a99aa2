"""Policies by tier and region end to end: trials started over HTTP on the dev server carry the policy of
their client's tier and region in their input, and a worker with a broken table never starts."""

import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.notifications import RecordingNotifier
from application.trials import TrialService
from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from domain.policy import PolicyOverride
from domain.trial import trial_id_for
from domain.workflow_io import StartTrial
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(120)]
F = {"Authorization": "Bearer tok-f"}
DAY = timedelta(days=1)


async def test_each_trial_starts_with_its_tier_and_region_policy(dev_env: WorkflowEnvironment, tmp_path):
    url = f"sqlite:///{tmp_path / 'policies.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    settings = Settings(
        task_queue=f"policies-{uuid.uuid4()}", data_dir=tmp_path, api_tokens={"tok-f": "fulfilment"},
        policies=[PolicyOverride(tier="EIP_PREMIUM", trial_days=10, return_window=7 * DAY),
                  PolicyOverride(region="JP", dispatch_sla=5 * DAY)],
    )  # fmt: skip
    premium = order(2, tier="EIP_PREMIUM")
    tokyo = order(2)
    tokyo = tokyo.model_copy(update={"customer": tokyo.customer.model_copy(update={"region": "JP"})})
    try:
        async with build_worker(
            dev_env.client, settings.task_queue, Adapters(store=store, notifier=RecordingNotifier())
        ):
            app = build_api(settings, dev_env.client, store)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
                for o in (premium, tokyo):
                    r = await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)
                    assert r.status_code == 201, r.text
                trials = TrialService(dev_env.client, settings.task_queue)

                async def start_of(order_id: str) -> StartTrial:
                    handle = dev_env.client.get_workflow_handle(trial_id_for(order_id))
                    return await trials._original_input(handle)

                p, t = (await start_of(premium.order_id)).policy, (await start_of(tokyo.order_id)).policy
                assert (p.trial_days, p.return_window, p.dispatch_sla) == (10, 7 * DAY, 3 * DAY)
                assert (t.trial_days, t.return_window, t.dispatch_sla) == (7, 3 * DAY, 5 * DAY)

                # The premium client's trial runs ten days from delivery.
                base = f"/v1/trials/{premium.order_id}"

                async def accepted() -> bool:
                    return bool((await api.get(base, headers=F)).json()["status"] == "AWAITING_DISPATCH")

                await eventually(accepted, "the trial to open")
                parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}
                await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)
                view = (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).json()
                delivered = next(pc["delivered_at"] for pc in view["parcels"])
                ends = datetime.fromisoformat(view["trial_ends_at"]) - datetime.fromisoformat(delivered)
                assert ends == 10 * DAY
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("policies", "says"),
    [
        ('[{"tier": "EIP_GOLD", "trial_days": 10}]', "'EIP_GOLD' is not a tier (EIP, EIP_PREMIUM)"),
        ('[{"region": "JP", "dispatch_sla": "-PT1H"}]', "dispatch_sla must be positive"),
    ],
)
def test_a_worker_with_a_broken_table_stops_at_start_up_with_a_sentence(policies: str, says: str, tmp_path: Path):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "styletrial"), "worker"], capture_output=True, text=True, timeout=60,
        env={"STYLETRIAL_POLICIES": policies, "STYLETRIAL_DATA_DIR": str(tmp_path), "PATH": str(Path(sys.executable).parent)},
    )  # fmt: skip
    assert done.returncode == 1 and "the settings are not valid" in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr
