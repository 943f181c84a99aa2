"""Commands on a trial: one route per row of the command table (domain/command_table.py), built here.

Each is a Temporal update. It answers with the trial as it stands once the workflow has acted (read from
the read model, which the workflow writes before answering), or with the domain's code and sentence, and
changes nothing. An `Idempotency-Key` names the command: a retry with it is the same update and gets the
first answer (application/trials.py, `TrialService.command`).
"""

from itertools import groupby
from typing import Annotated, Any, Union

from fastapi import APIRouter, Depends, Request, Response

from api.auth import allow, as_sent, named, needs_actor, to_command
from api.models import errors
from api.params import IdempotencyKey, OrderId
from api.services import ServicesDep
from domain.command_table import COMMANDS, Command
from domain.view import TrialView

# Every command answers 200 with the trial (sent as stored in the read model, so declared here for the docs).
router = APIRouter(
    prefix="/v1/trials/{order_id}", tags=["commands"],
    responses={
        200: {"model": TrialView, "description": "The trial once the command took effect."},
        **errors(401, 403, 404, 409, 413, 422, 503),
    },
)  # fmt: skip


def _add_route(rows: list[Command]) -> None:
    """The route for one path: its body is the command's model (one of them, when two commands share the
    path), with `actor` optional where a person's token names them (`as_sent`)."""
    first = rows[0]
    bodies = [as_sent(r.model) if needs_actor(r.model) else r.model for r in rows]
    body_type: Any = bodies[0] if len(bodies) == 1 else Union[tuple(bodies)]  # noqa: UP007 (built at run time)
    role_type: Any = Annotated[str, Depends(allow(*first.roles))]

    async def endpoint(
        request: Request, order_id: OrderId, body: body_type, role: role_type, services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:  # fmt: skip
        command = to_command(named(request, body))
        # As stored in the read model, JSON text: not parsed and validated again for every answer.
        raw = await services.command(role, order_id, command, idempotency_key)
        return Response(raw, media_type="application/json")

    described = " ".join(dict.fromkeys(r.description for r in rows))
    router.add_api_route(
        f"/{first.path}", endpoint, methods=["POST"], name=first.operation, summary=first.summary,
        description=f"Roles: {', '.join(first.roles)}. {described}",
    )  # fmt: skip


for _, _rows in groupby(sorted(COMMANDS, key=lambda r: r.path), key=lambda r: r.path):
    _add_route(list(_rows))
