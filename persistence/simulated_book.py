"""The simulated gateway's state in the engine's database (tables `simulated_*`, migration 0003).

It plays the bank's side, so it is kept apart from the engine's ledger: the ledger says what the engine
believes, this says what the "bank" did, and the tests compare the two.
"""

from sqlalchemy import Engine, select

from activities.ports import GatewayOperation, SimulatedAuthorization
from persistence.db import make_sessions, one_writer
from persistence.models import SimulatedAuthorizationRecord, SimulatedOperationRecord


class SqlGatewayBook:
    blocking = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = make_sessions(engine)

    def answers(self, key: str) -> list[GatewayOperation]:
        with self._sessions() as s:
            rows = s.scalars(
                select(SimulatedOperationRecord)
                .where(SimulatedOperationRecord.key == key)
                .order_by(SimulatedOperationRecord.id)
            )
            return [_operation(r) for r in rows]

    def record(self, op: GatewayOperation) -> None:
        with one_writer(self._engine), self._sessions.begin() as s:
            s.add(
                SimulatedOperationRecord(
                    key=op.key, kind=op.kind, trial_id=op.trial_id, amount=op.amount, approved=op.approved,
                    reference=op.reference, result=op.result,
                )
            )  # fmt: skip

    def authorization(self, authorization_id: str) -> SimulatedAuthorization | None:
        with self._sessions() as s:
            row = s.get(SimulatedAuthorizationRecord, authorization_id)
            return _authorization(row) if row else None

    def save(self, auth: SimulatedAuthorization) -> None:
        with one_writer(self._engine), self._sessions.begin() as s:
            s.merge(
                SimulatedAuthorizationRecord(
                    authorization_id=auth.id, trial_id=auth.trial_id, amount=auth.amount, remaining=auth.remaining,
                    currency=auth.currency, expires_at=auth.expires_at, state=auth.state,
                )
            )  # fmt: skip

    def authorizations(self, trial_id: str) -> list[SimulatedAuthorization]:
        with self._sessions() as s:
            rows = s.scalars(
                select(SimulatedAuthorizationRecord).where(SimulatedAuthorizationRecord.trial_id == trial_id)
            )
            return [_authorization(r) for r in rows]

    def operations(self, trial_id: str | None = None) -> list[GatewayOperation]:
        query = select(SimulatedOperationRecord).order_by(SimulatedOperationRecord.id)
        if trial_id is not None:
            query = query.where(SimulatedOperationRecord.trial_id == trial_id)
        with self._sessions() as s:
            return [_operation(r) for r in s.scalars(query)]


def _operation(r: SimulatedOperationRecord) -> GatewayOperation:
    return GatewayOperation(r.key, r.kind, r.trial_id, r.amount, r.approved, r.reference, dict(r.result))


def _authorization(r: SimulatedAuthorizationRecord) -> SimulatedAuthorization:
    return SimulatedAuthorization(
        r.authorization_id, r.trial_id, r.amount, r.remaining, r.currency, r.expires_at, r.state
    )
