"""What the routes work with: the application's one door (application/door.py), set once by `create_app` and
handed to each route as a typed dependency."""

from typing import Annotated

from fastapi import Depends, Request

from application.door import Application


async def _services(request: Request) -> Application:  # async: no thread pool hand-off (see api.auth)
    services: Application = request.app.state.services
    return services


ServicesDep = Annotated[Application, Depends(_services)]
