"""The desktop app (PySide6). Sits on the core's API; long work runs in workers (``workers``).

Import :mod:`ceusdesk.gui.app` to start it. onnxruntime is imported before PySide6 (Windows DLL order).
"""
