"""The trainer (torch lives only here). It imports ceusdesk first: ceusdesk/__init__.py switches off
ONNX Runtime's telemetry uploader before any onnxruntime import (quantization and export use ORT)."""
import ceusdesk  # noqa: F401
