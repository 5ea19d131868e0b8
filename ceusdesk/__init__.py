"""ceusdesk: characterize focal liver lesions on Sonazoid CEUS. Research use only, not for diagnosis.

The core (everything here except ``ceusdesk.gui``) imports neither torch nor PySide6.
"""
import os as _os

__version__ = "0.1.0"

RESEARCH_USE = "Research use only - not for clinical diagnosis."

# ONNX Runtime (1.31, 1.32 on Linux) starts 1DS telemetry when it is imported: a thread that resolves and
# contacts *.events.data.microsoft.com, whatever disable_telemetry_events() says. Its only switch is its
# CI detection; TF_BUILD (Azure Pipelines' marker) is read by nothing else ceusdesk loads. Set before any
# import of onnxruntime (every entry point imports this package first); tests/test_offline.py traces it.
_os.environ.setdefault("TF_BUILD", "True")
