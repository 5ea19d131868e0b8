# PyInstaller runtime hook: stand-ins for the PySide6 modules the bundle leaves out but pyqtgraph imports.
#
# pyqtgraph imports PySide6.QtOpenGL and PySide6.QtOpenGLWidgets when it loads, for its optional OpenGL
# drawing (useOpenGL), which ceusdesk never turns on; the bindings alone are ~9 MB, more than the 400 MB
# budget leaves (docs/it-guide.md). A finder placed LAST on sys.meta_path answers for those two names
# only when no real module was found, so a build that does carry them uses the real ones. pyqtgraph may
# subclass the stand-in QOpenGLWidget and test isinstance against it (always False: there is no GL
# widget); creating one, or touching any other name, raises with one line naming what was used - never a
# silent wrong picture. tests/packaging/test_qt_standins.py draws the curve panel with these in place.
import importlib.abc
import importlib.machinery
import sys
import types

STAND_INS = ("PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets")
MESSAGE = ("ceusdesk bundle: {module} was left out because ceusdesk never draws with OpenGL "
           "(docs/it-guide.md, 'What is inside'); it was used anyway ({name})")


class LeftOut(AttributeError):
    """A name of a left-out module was used (an AttributeError, so hasattr() says it is absent)."""


class _AbsentQtClass:
    """A class of a left-out module: may be named, subclassed and tested with isinstance, never created."""

    def __new__(cls, *args, **kwargs):
        qt = next(c for c in cls.__mro__ if _AbsentQtClass in c.__bases__)  # e.g. pyqtgraph's subclass
        used = qt.__name__ if qt is cls else f"{cls.__qualname__}, a {qt.__name__}"
        raise RuntimeError(MESSAGE.format(module=qt.__module__, name=used))


class _StandInModule(types.ModuleType):
    CLASSES = ("QOpenGLWidget",)  # what pyqtgraph names while loading

    def __init__(self, name: str):
        super().__init__(name, f"ceusdesk bundle stand-in: {name} left out (never used)")
        for cls in self.CLASSES:
            setattr(self, cls, type(cls, (_AbsentQtClass,), {"__module__": name}))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise LeftOut(MESSAGE.format(module=self.__name__, name=name))


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in STAND_INS:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return _StandInModule(spec.name)

    def exec_module(self, module):
        pass


if not any(isinstance(f, _StandInFinder) or type(f).__name__ == "_StandInFinder" for f in sys.meta_path):
    sys.meta_path.append(_StandInFinder())
