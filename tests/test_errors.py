"""Every error the core raises on purpose is a CeusdeskError: one line and a documented exit code at the
front ends, never "FrameError: …" or a traceback."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ceusdesk
from ceusdesk.base.errors import CeusdeskError
from ceusdesk.cli import EXIT_CODES_DOC

# OSError subclasses stay OSErrors: the outputs' callers catch file-system errors as such (exit 7)
ALLOWED_OUTSIDE = {"ceusdesk.outputs.audit.AuditSaltError"}


def core_exception_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(ceusdesk.__path__, "ceusdesk."):
        if info.name.startswith("ceusdesk.gui") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_core_error_is_a_ceusdesk_error_with_a_documented_exit_code():
    classes = core_exception_classes()
    assert any(c.__name__ == "FrameError" for c in classes)
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes
                     if not issubclass(c, CeusdeskError)
                     and f"{c.__module__}.{c.__qualname__}" not in ALLOWED_OUTSIDE)
    assert outside == [], f"errors outside the CeusdeskError hierarchy: {outside}"
    for c in classes:
        if issubclass(c, CeusdeskError) and c is not CeusdeskError:
            documented = f"  {c.exit_code}  " in EXIT_CODES_DOC or f"  {c.exit_code} " in EXIT_CODES_DOC
            assert documented, f"{c.__name__}: exit code {c.exit_code} is not in `ceusdesk --help`"


@pytest.mark.parametrize("name, code", [("FrameError", 3), ("MediaError", 3), ("PixelDataError", 3),
                                        ("NotAnImage", 3), ("Undecodable", 3), ("UnknownPatient", 2)])
def test_ingest_errors_keep_being_value_errors_and_map_to_exit_codes(name, code):
    cls = next(c for c in core_exception_classes() if c.__name__ == name)
    assert issubclass(cls, ValueError) and cls.exit_code == code
