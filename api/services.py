"""What the routes work with, set once by `create_app` and handed to each route as a typed dependency."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from client.trials import TrialClient
from domain.policy import TrialPolicy
from domain.view import TrialView
from persistence.store import SqlStore


@dataclass(frozen=True)
class Services:
    temporal: Client
    trials: TrialClient
    store: SqlStore
    policy: TrialPolicy

    async def read_view(self, order_id: str) -> TrialView:
        """The trial from the read model (see `TrialClient.read`), never from a workflow query."""
        return await self.trials.read(order_id)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
