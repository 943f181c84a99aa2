"""Return labels, for the client: the link in their message opens the label's PDF without logging in.

The link's token is the capability: 32 random characters, one per label, in the message the client
received (and nowhere in the view, the logs or the events). A wrong or unknown token is a plain 404.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.auth import ApiError
from api.models import errors
from api.services import ServicesDep

router = APIRouter(tags=["returns"])

Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get(
    "/v1/return-labels/{token}",
    summary="A prepaid return label (PDF), by the link the client received",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The label's PDF."}, **errors(404, 422, 503)},
)
async def get_return_label(services: ServicesDep, token: Token) -> Response:
    pdf = await services.return_label(token)
    if pdf is None:
        raise ApiError(404, "unknown_label", "No return label has this link.")
    # Personal data (the client's address): never cached by a proxy, never indexed.
    headers = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex", "Content-Disposition": "inline"}
    return Response(pdf, media_type="application/pdf", headers=headers)
