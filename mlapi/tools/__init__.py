"""Offline tools: ONNX export and quantization, small synthetic models, the generated
configuration page. The request path never imports them."""
