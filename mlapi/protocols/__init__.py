"""Protocols as codecs: a request body becomes neutral inputs, neutral outputs become a body.

One module per protocol (`native`, `tei`, `openai`, `v2`). A codec finds its model through the
data plane, reads the body into inputs (texts or rows), calls `DataPlane.infer` and writes the
answer; it knows no kind, only capabilities. `mlapi.http.routes.inference` maps each inference
route to its codec. No HTTP here.
"""
