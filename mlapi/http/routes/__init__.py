"""mlapi's own routes: inference (answered by the fast lane, declared here for the schema),
health, models and the admin API, figures."""

from fastapi import APIRouter

from mlapi.http.routes import health, inference, models, stats

router = APIRouter()
for part in (inference, health, models, stats):
    router.include_router(part.router)
