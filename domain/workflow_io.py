"""What crosses the workflow's boundary: its input (the order plus the policy it runs under, so replay
never reads settings) and a command's answer."""

from pydantic import BaseModel, ConfigDict

from domain.order import TrialOrder
from domain.policy import TrialPolicy
from domain.status import TrialStatus


class StartTrial(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: TrialOrder
    policy: TrialPolicy = TrialPolicy()


class CommandOutcome(BaseModel):
    """A command's answer: where the trial now stands, and the read-model revision that shows it.

    Small on purpose: it is written to the trial's history with every command. Whoever needs the whole
    trial reads it from the read model, which the workflow has brought to `revision` before answering.
    (Trials that never report to the read model, started before it existed, answer with the whole view.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str
    status: TrialStatus
    revision: int
