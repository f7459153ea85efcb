"""The FastAPI routes besides inference: health, models and the admin API, figures."""

from fastapi import APIRouter

from mlapi.http.routes import health, models, stats

router = APIRouter()
for part in (health, models, stats):
    router.include_router(part.router)
