"""Liveness (the process answers) and readiness (Temporal and the database answer too)."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.models import Health
from api.services import ServicesDep
from persistence.store import SqlStore

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(services.temporal.service_client.check_health(), 3)
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"unreachable: {type(err).__name__}"
    try:
        await asyncio.to_thread(_ping, services.store)
        checks["database"] = "ok"
    except Exception as err:
        checks["database"] = f"unreachable: {type(err).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks).model_dump()
    return JSONResponse(body, status_code=200 if ready else 503)


def _ping(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
