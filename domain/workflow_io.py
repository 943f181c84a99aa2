"""The workflow's input: the order plus the policy it runs under (so replay never reads settings)."""

from pydantic import BaseModel, ConfigDict

from domain.order import TrialOrder
from domain.policy import TrialPolicy


class StartTrial(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: TrialOrder
    policy: TrialPolicy = TrialPolicy()
