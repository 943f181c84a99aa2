"""Liveness (the process answers) and readiness (Temporal and the database answer too)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.models import Health
from api.services import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = await services.health()
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks).model_dump()
    return JSONResponse(body, status_code=200 if ready else 503)
