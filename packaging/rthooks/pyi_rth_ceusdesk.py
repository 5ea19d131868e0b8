# PyInstaller runtime hook: runs in the frozen app before ceusdesk is imported.
import sys

if sys.platform == "win32":
    # onnxruntime must load its DLLs before PySide6 puts Qt's (and its MSVC runtime) on the search path;
    # the other order can fail with "DLL load failed" inside onnxruntime on some Windows PCs.
    import onnxruntime  # noqa: F401
