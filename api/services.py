"""What the routes work with, set once by `create_app` and handed to each route as a typed dependency."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from application.trials import TrialService
from domain.policy import PolicyTable
from persistence.store import SqlStore


@dataclass(frozen=True)
class Services:
    temporal: Client
    trials: TrialService
    store: SqlStore
    # The policy each new trial starts with, by the client's tier and region (domain.policy.PolicyTable).
    policies: PolicyTable


async def _services(request: Request) -> Services:  # async: no thread pool hand-off (see api.auth)
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
