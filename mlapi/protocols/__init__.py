"""Protocols as codecs: a request body becomes neutral inputs, neutral outputs become a body.

One module per protocol (`native`, `tei`, `openai`, `v2`). A codec finds its model through the
data plane, reads the body into inputs (texts or rows), calls `DataPlane.infer` and writes the
answer; it knows no kind, only capabilities. `ROUTES` is every inference route, answered by one
ASGI endpoint (`mlapi.http.endpoint`).
"""
