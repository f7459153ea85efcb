"""The layers every HTTP request goes through, outermost first: access log, in-flight count,
HTTP metrics, body limit (`limits` also bounds the request head, in uvicorn's protocol)."""
