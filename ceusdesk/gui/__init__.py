"""The desktop app (PySide6). Sits on the core's API; long work runs in workers (``workers``).

Import :mod:`ceusdesk.gui.app` to start it. This package's own init is Qt-free: on Windows it loads
onnxruntime first, so every way of starting the app from source gets the DLL order right.
"""
import sys


def preload_onnxruntime(platform: str | None = None) -> bool:
    """On Windows, import onnxruntime before anything imports PySide6; True when it was loaded here.

    PySide6 puts Qt's DLLs (and its MSVC runtime) on the search path; onnxruntime loaded after them
    can fail with "DLL load failed" on some PCs. Elsewhere nothing is done: the engine imports it
    when the first analysis runs. The frozen bundle does the same in its runtime hook.
    """
    if (platform or sys.platform) != "win32":
        return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:  # the analysis will say that the runtime is missing
        return False
    return True


preload_onnxruntime()
