"""What must hold for every trial once the campaign is over, whatever faults it went through."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import stripe
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.stripe_gateway import KEY, TRIAL, received_amount
from domain.trial import trial_id_for
from domain.view import TrialView

CHARGED_FATES = {"KEPT", "KEPT_UNRETURNED", "DAMAGED"}
NEVER_CHARGED = {"UNAVAILABLE", "RETURNED", "LOST_IN_RETURN", "WAIVED", "LOST_IN_TRANSIT", "EXCHANGED"}
AT_REST = {"COMPLETED", "CANCELLED", "REJECTED"}
WAITING = {"PAYMENT_ACTION_REQUIRED"}


@dataclass
class Verdict:
    order_id: str
    status: str = "?"
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    task_retries: int = 0  # workflow tasks failed and retried (a stale clock evicted, say): not a defect
    # What staff and clients did that the plans ask for, as the trial's own audit trail has it.
    exchanged: int = 0
    answered: Counter[str] = field(default_factory=Counter)  # claims settled, returns found, written off, ...

    @property
    def defects(self) -> list[str]:
        return [*self.lost, *self.duplicated, *self.stuck]


class Books:
    """The engine's ledger and the simulated gateway's own tables, read straight from the database."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def read_model_view(self, order_id: str) -> dict[str, Any] | None:
        found = self.rows("SELECT view FROM trials WHERE order_id = :o", o=order_id)
        if not found or found[0][0] is None:
            return None
        raw = found[0][0]
        return dict(json.loads(raw) if isinstance(raw, str) else raw)


class Gateway(Protocol):
    """The gateway's own record, as the bank would show it."""

    def moved(self, trial_id: str) -> list[tuple[str, int]]:
        """(idempotency key, amount) of every capture or charge that took money."""
        ...

    def held(self, trial_id: str) -> list[str]:
        """Holds still in place."""
        ...

    def refunded(self, trial_id: str) -> list[tuple[str, int]]:
        """(idempotency key, amount) of every refund that gave money back."""
        ...


class SimulatedGatewayBook:
    def __init__(self, books: Books) -> None:
        self.books = books

    def moved(self, trial_id: str) -> list[tuple[str, int]]:
        return self._approved(trial_id, "capture", "charge")

    def held(self, trial_id: str) -> list[str]:
        rows = self.books.rows(
            "SELECT authorization_id FROM simulated_authorizations WHERE trial_id = :t "
            "AND state = 'authorized' AND remaining > 0", t=trial_id,
        )  # fmt: skip
        return [str(r[0]) for r in rows]

    def refunded(self, trial_id: str) -> list[tuple[str, int]]:
        return self._approved(trial_id, "refund")

    def _approved(self, trial_id: str, *kinds: str) -> list[tuple[str, int]]:
        """(key, amount) of the operations of these kinds that the gateway carried out."""
        rows = self.books.rows(
            "SELECT key, kind, amount FROM simulated_operations WHERE trial_id = :t AND approved", t=trial_id
        )
        return [(str(k), int(a)) for k, kind, a in rows if kind in kinds]


class StripeDashboard:
    """What localstripe holds: every PaymentIntent, read once, grouped by the trial in its metadata."""

    def __init__(self, api_base: str, api_key: str) -> None:
        client = stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=2)
        self.by_trial: dict[str, list[dict[str, Any]]] = {}
        for intent in client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
            data = intent.to_dict()
            trial = (data.get("metadata") or {}).get(TRIAL)
            if trial:
                self.by_trial.setdefault(str(trial), []).append(data)
        # The engine's refunds (localstripe also shows an uncaptured remainder as a refund, without metadata).
        self.refunds: dict[str, list[dict[str, Any]]] = {}
        for refund in client.v1.refunds.list(params={"limit": 100}).auto_paging_iter():
            data = refund.to_dict()
            trial = (data.get("metadata") or {}).get(TRIAL)
            if trial:
                self.refunds.setdefault(str(trial), []).append(data)

    def moved(self, trial_id: str) -> list[tuple[str, int]]:
        # localstripe counts refunds in what a payment received; what it took is that plus the refunds.
        back: Counter[str] = Counter()
        for r in self.refunds.get(trial_id, []):
            back[str(r.get("payment_intent"))] += int(r["amount"])
        taken = [(str(i["metadata"][KEY]), received_amount(i) + back[i["id"]]) for i in self.by_trial.get(trial_id, [])]
        return [(k, a) for k, a in taken if a > 0]

    def refunded(self, trial_id: str) -> list[tuple[str, int]]:
        return [(str(r["metadata"][KEY]), int(r["amount"])) for r in self.refunds.get(trial_id, [])]

    def held(self, trial_id: str) -> list[str]:
        return [str(i["id"]) for i in self.by_trial.get(trial_id, []) if i["status"] == "requires_capture"]


async def check_trial(client: Client, books: Books, gateway: Gateway, order_id: str, histories: Path) -> Verdict:
    v = Verdict(order_id)
    trial_id = trial_id_for(order_id)
    handle = client.get_workflow_handle(trial_id, result_type=TrialView)
    try:
        desc = await handle.describe()
        history = await handle.fetch_history()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            v.lost.append("the start was accepted but there is no workflow")
            return v
        raise
    failures = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    v.task_retries = len(failures)
    nondeterministic = [
        e for e in failures
        if e.workflow_task_failed_event_attributes.cause
        == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
    ]  # fmt: skip
    if nondeterministic:
        v.stuck.append(f"non-determinism at event {nondeterministic[0].event_id}")
    pending = desc.raw_description.pending_workflow_task
    if desc.status == WorkflowExecutionStatus.RUNNING and pending.attempt > 1:
        v.stuck.append(f"its workflow task is failing (attempt {pending.attempt})")
    if v.stuck or failures:
        (histories / f"{trial_id}.json").write_text(history.to_json())

    view = books.read_model_view(order_id)
    if view is None:
        v.lost.append("the read model never saw it")
        return v
    v.status = view["status"]
    v.exchanged = sum(1 for p in view["pieces"] if p.get("exchanged_for"))
    v.answered = Counter(
        e["kind"] for e in view["events"]
        if e["kind"] in ("claim_settled", "return_found", "return_written_off", "attention_acknowledged")
    )  # fmt: skip
    if v.status not in AT_REST | WAITING:
        v.stuck.append(f"still {v.status}")
    result: TrialView | None = None
    if desc.status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result()
    elif desc.status == WorkflowExecutionStatus.RUNNING and v.status in AT_REST:
        # Completed and waiting out its refund window: the workflow's own view is its result to come.
        result = await handle.query("view", result_type=TrialView)
    elif desc.status != WorkflowExecutionStatus.RUNNING:
        v.stuck.append(f"the workflow ended {desc.status.name if desc.status else '?'}")
    if result is not None:
        # The refund window may close between reading the read model and asking the workflow.
        differences = [
            d for d in differing_paths(result.model_dump(mode="json"), view) if d.split(" ")[0] != "refunds_until"
        ]
        if differences:
            v.lost.append(f"the read model differs from the workflow's result at {', '.join(differences[:8])}")
            (histories / f"{trial_id}.json").write_text(history.to_json())

    prices = {p["piece_id"]: p["price"] for p in view["pieces"]}
    charged_pieces = {p["piece_id"] for p in view["pieces"] if p["charged"]}
    charged = view["amounts"]["charged"]
    if charged != sum(prices[p] for p in charged_pieces):
        v.duplicated.append(f"charged {charged} is not the sum of its charged pieces")
    wrongly = [p["piece_id"] for p in view["pieces"] if p["charged"] and p["state"] in NEVER_CHARGED]
    if wrongly or (v.status in {"CANCELLED", "REJECTED"} and charged):
        v.duplicated.append(f"charged pieces that are never charged: {wrongly or 'all'}")
    refunded = view["amounts"].get("refunded", 0)
    refunds = {p["piece_id"]: p.get("refunded") or 0 for p in view["pieces"] if p["state"] == "REFUNDED"}
    if refunded != sum(refunds.values()) or any(not 0 < r <= prices[p] for p, r in refunds.items()):
        v.duplicated.append(f"refunded {refunded} is not what its refunded pieces say ({refunds})")
    if any(p not in charged_pieces for p in refunds):
        v.duplicated.append(f"refunded pieces that were never charged: {sorted(set(refunds) - charged_pieces)}")
    if v.status == "COMPLETED":
        # Every piece in a charged fate, and every refunded one (before its refund), was charged once.
        owed = sum(p["price"] for p in view["pieces"] if p["state"] in CHARGED_FATES | {"REFUNDED"})
        if charged < owed:
            v.lost.append(f"completed with {charged} charged of {owed} owed")
        if charged > owed:
            v.duplicated.append(f"completed with {charged} charged, {owed} owed")

    ledger = books.rows(
        "SELECT idempotency_key, amount FROM money_movements WHERE trial_id = :t "
        "AND kind IN ('capture', 'charge') AND status = 'succeeded'", t=trial_id,
    )  # fmt: skip
    _agree(v, "charges", ledger, gateway.moved(trial_id), charged)
    ledger_back = books.rows(
        "SELECT idempotency_key, amount FROM money_movements WHERE trial_id = :t "
        "AND kind = 'refund' AND status = 'succeeded'", t=trial_id,
    )  # fmt: skip
    _agree(v, "refunds", ledger_back, gateway.refunded(trial_id), refunded)
    if v.status in AT_REST:
        held = gateway.held(trial_id)
        if held:
            v.lost.append(f"a hold is left at the gateway: {held}")
    return v


def _agree(v: Verdict, what: str, ledger: list[Any], at_gateway: list[tuple[str, int]], read_model: int) -> None:
    """The ledger, the gateway and the read model say the same amount, and no key moved money twice."""
    twice = [k for k, n in Counter(k for k, _ in at_gateway).items() if n > 1]
    if twice:
        v.duplicated.append(f"{what}: the gateway moved money twice under {twice}")
    ledger_total, gateway_total = sum(a for _, a in ledger), sum(a for _, a in at_gateway)
    if not ledger_total == gateway_total == read_model:
        bucket = v.duplicated if max(ledger_total, gateway_total) > read_model else v.lost
        bucket.append(f"{what}: ledger {ledger_total}, gateway {gateway_total}, read model {read_model} disagree")


def differing_paths(want: Any, got: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ, as paths (`pieces[3].state`), so that a defect names its field."""
    if isinstance(want, dict) and isinstance(got, dict):
        return [
            d for k in sorted(want.keys() | got.keys()) for d in differing_paths(want.get(k), got.get(k), f"{path}.{k}")
        ]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            d for i, (w, g) in enumerate(zip(want, got, strict=True)) for d in differing_paths(w, g, f"{path}[{i}]")
        ]
    if want == got:
        return []
    if isinstance(want, list) and isinstance(got, list):
        return [f"{path.lstrip('.')} ({len(want)} in the workflow, {len(got)} stored)"]
    return [f"{path.lstrip('.')} ({want!r} in the workflow, {got!r} stored)"]
