"""One order opens one trial, ever, even after Temporal has deleted the trial's history (the namespace's
retention): the start path asks the read model too. Shown on the dev server by deleting a closed trial's
workflow, then sending its order again."""

import uuid

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.notifications import RecordingNotifier
from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from domain.trial import trial_id_for
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
TOKENS = {"tok-f": "fulfilment", "tok-r": "read"}
F, R = ({"Authorization": f"Bearer {t}"} for t in TOKENS)


async def test_an_order_whose_history_temporal_deleted_does_not_open_a_second_trial(
    dev_env: WorkflowEnvironment, tmp_path
):
    url = f"sqlite:///{tmp_path / 'retention.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    settings = Settings(task_queue=f"retention-{uuid.uuid4()}", api_tokens=TOKENS, data_dir=tmp_path)
    client = dev_env.client
    o = order(2)
    body = o.model_dump(mode="json", exclude_none=True)
    base = f"/v1/trials/{o.order_id}"
    handle = client.get_workflow_handle(trial_id_for(o.order_id))
    try:
        async with build_worker(client, settings.task_queue, Adapters(store=store, notifier=RecordingNotifier())):
            app = build_api(settings, client, store)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
                assert (await api.post("/v1/trials", json=body, headers=F)).status_code == 201

                async def status_is(status: str) -> bool:
                    return bool((await api.get(base, headers=R)).json()["status"] == status)

                await eventually(lambda: status_is("AWAITING_DISPATCH"), "the trial to open")
                cancel = {"reason": "Client changed their mind", "actor": "cr.test"}
                assert (await api.post(f"{base}/cancel", json=cancel, headers=F)).status_code == 200
                await eventually(lambda: status_is("CANCELLED"), "the cancellation in the read model")
                await handle.result()

                # What the namespace's retention does to a closed trial, done now.
                await client.workflow_service.delete_workflow_execution(
                    DeleteWorkflowExecutionRequest(
                        namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id)
                    )
                )

                async def deleted() -> bool:
                    try:
                        await handle.describe()
                    except RPCError as err:
                        return err.status == RPCStatusCode.NOT_FOUND
                    return False

                # The dev server deletes a closed execution about 30-40 s after it is asked to (measured).
                await eventually(deleted, "Temporal to delete the history", seconds=90, every=1)

                again = await api.post("/v1/trials", json=body, headers=F)
                assert again.status_code == 200, again.text  # the existing trial, not a new one
                assert again.json()["status"] == "CANCELLED" and again.json()["order_id"] == o.order_id
                assert await deleted(), "no second workflow was started for the order"

                changed = {**body, "pieces": body["pieces"][:1]}
                conflict = await api.post("/v1/trials", json=changed, headers=F)
                assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "order_conflict"

                late = await api.post(f"{base}/cancel", json=cancel, headers=F)
                assert late.status_code == 409 and late.json()["error"]["code"] == "trial_finished", late.text
                assert (await api.get(base, headers=R)).json()["status"] == "CANCELLED"
    finally:
        engine.dispose()
