"""Which model package to use: CLI ``--model`` → env ``CEUSDESK_MODEL`` → ``models/`` beside a frozen
bundle → the default package under ``exports/``.

``exports/`` sits next to the ``ceusdesk`` package: the repository's folder in a source checkout, the
bundle's internal copy in a frozen one (packaging/bundle_rules.py puts it there). A folder with several
packages and nothing saying which one is an error, never a silent choice; ``CEUSDESK_DEFAULT_MODEL``
names the folder to take (the same variable the bundle build reads).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ceusdesk.base.errors import ModelRefused
from ceusdesk.model_package.manifest import MANIFEST_NAME

ENV_MODEL = "CEUSDESK_MODEL"
ENV_DEFAULT = "CEUSDESK_DEFAULT_MODEL"
HOW_TO_GET = ("build one with `python -m trainer export RUN --out exports/NAME` (docs/analyze.md), "
              "or pass --model PATH/manifest.json")


def exports_dir() -> Path:
    """``exports/`` beside the ``ceusdesk`` package (source tree or frozen bundle)."""
    return Path(__file__).resolve().parents[2] / "exports"


def bundle_models_dir() -> Path | None:
    """``models/`` beside the frozen executable, where IT may drop a site's package; None unfrozen."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent / "models"
    return None


def packages_in(folder: Path) -> list[Path]:
    """Manifests directly in ``folder`` or one level below, sorted by folder name."""
    if not folder.is_dir():
        return []
    if (folder / MANIFEST_NAME).is_file():
        return [folder / MANIFEST_NAME]
    return sorted(p / MANIFEST_NAME for p in folder.iterdir() if (p / MANIFEST_NAME).is_file())


def pick_package(folder: Path) -> Path | None:
    """The one package in ``folder`` (``CEUSDESK_DEFAULT_MODEL`` picks among several); None if empty."""
    found = packages_in(folder)
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    wanted = os.environ.get(ENV_DEFAULT)
    for m in found:
        if wanted and m.parent.name == wanted:
            return m
    names = ", ".join(m.parent.name for m in found)
    raise ModelRefused(f"{folder}: several model packages ({names}); pass --model or set {ENV_DEFAULT}")


def resolve_model(cli: str | os.PathLike[str] | None = None) -> Path:
    """The manifest.json to load. A path that is a folder means its manifest.json.

    Raises :class:`ModelRefused` when nothing is found (the message says how to get a package).
    """
    for given in (cli, os.environ.get(ENV_MODEL) or None):
        if given:
            if "\x00" in os.fspath(given):  # no file system takes it; os calls would raise ValueError
                raise ModelRefused(f"model path {os.fspath(given)!r} contains a NUL byte: pass the package's "
                                   "folder or manifest.json")
            p = Path(given).expanduser()
            return p / MANIFEST_NAME if p.is_dir() else p
    for folder in (bundle_models_dir(), exports_dir()):
        if folder is not None:
            found = pick_package(folder)
            if found is not None:
                return found
    raise ModelRefused(f"the model package is missing: no manifest.json in {exports_dir()} - {HOW_TO_GET}")
