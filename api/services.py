"""What the routes work with, set once by `create_app` and handed to each route as a typed dependency."""

import asyncio
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
        """The trial as its workflow last reported it to the read model; one not projected yet (just started,
        or no worker has run it) reads as it opened, and an unknown order is `unknown_order`."""
        view = await asyncio.to_thread(self.store.view, order_id)
        if view is not None:
            return view
        return await self.trials.opening_view(order_id)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
