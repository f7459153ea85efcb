"""`uvicorn mlapi.main:app`. Prefer `python -m mlapi`, which adds the SIGTERM drain."""

from mlapi.app.factory import create_app

app = create_app()
