"""`uvicorn mlapi.main:app`. Prefer `python -m mlapi`, which adds the SIGTERM drain."""

from mlapi.app import create_app

app = create_app()
