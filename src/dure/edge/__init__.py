"""The line-side runtime (`dure edge`): a camera folder or an MQTT image topic in, ONNX
inference without torch, the verdict out to MQTT and a PLC, every result spooled on disk and
forwarded to the site's Dure when it can be reached.

Only stdlib, numpy, Pillow, onnxruntime, cryptography, paho-mqtt, asyncua and httpx are
imported here (an import-linter contract and tests/edge/test_torch_free.py hold it)."""
