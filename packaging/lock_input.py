"""The input of the bundle's lock (packaging/lock.sh), from the files that define it: pyproject.toml's
runtime dependencies and `app` extra, PyInstaller, and packaging/bundle-constraints.txt.

    python packaging/lock_input.py            the requirements uv resolves
    python packaging/lock_input.py --sha256   their sha256: the lock records it, build.sh and a test compare
"""
from __future__ import annotations

import hashlib
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYINSTALLER = "pyinstaller>=6.10,<7"


def requirements(root: Path = ROOT) -> list[str]:
    with open(root / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    constraints = [line.split("#")[0].strip() for line in
                   (root / "packaging" / "bundle-constraints.txt").read_text().splitlines()]
    return [*project["dependencies"], *project["optional-dependencies"]["app"], PYINSTALLER,
            *[c for c in constraints if c]]


def text(root: Path = ROOT) -> str:
    return "\n".join(requirements(root)) + "\n"


def sha256(root: Path = ROOT) -> str:
    return hashlib.sha256(text(root).encode()).hexdigest()


def lock_sha256(lock: Path) -> str | None:
    """The input sha256 a lock file says it was made from."""
    for line in lock.read_text().splitlines()[:5]:
        if line.startswith("# input sha256 "):
            return line.split()[3]
    return None


if __name__ == "__main__":
    sys.stdout.write(sha256() + "\n" if "--sha256" in sys.argv[1:] else text())
