"""The app core (every ceusdesk module outside ceusdesk.gui) imports neither torch nor PySide6."""
import pkgutil
import subprocess
import sys

import ceusdesk


def core_modules() -> list[str]:
    names = ["ceusdesk"]
    for info in pkgutil.walk_packages(ceusdesk.__path__, "ceusdesk."):
        if info.name == "ceusdesk.gui" or info.name.startswith("ceusdesk.gui."):
            continue
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_every_core_module_is_found():
    mods = core_modules()
    assert "ceusdesk.inference.preprocess" in mods and "ceusdesk.base.protocol" in mods
    assert not any(m.startswith("ceusdesk.gui") for m in mods)


def test_core_imports_no_torch_or_qt():
    mods = core_modules()
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'PySide6'))\n"
        "print(','.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"core pulled in: {proc.stdout.strip()} {proc.stderr[-800:]}"
