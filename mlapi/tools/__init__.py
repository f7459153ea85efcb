"""Offline tools: ONNX export and quantization, small synthetic models, the generated
configuration page. Serving never imports them."""
