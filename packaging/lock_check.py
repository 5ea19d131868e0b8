"""Checks that a bundle is built from its lock (packaging/requirements-bundle.txt), and only from it.

    python packaging/lock_check.py --fresh   the lock was made from today's pyproject.toml + constraints
    python packaging/lock_check.py --env     the running Python's installed packages are exactly the
                                             lock's pins for this platform (nothing more, nothing else)

Exits 1 with one line per difference; build.sh runs both before PyInstaller.
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lock_input

LOCK = Path(__file__).resolve().parent / "requirements-bundle.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;\\]+)\s*(?:;\s*(.+?))?\s*\\?$")
NOT_LOCKED = {"pip"}  # the installer itself


def pins(lock: Path = LOCK, environment: dict[str, str] | None = None) -> dict[str, str]:
    """{canonical name: version} of the lock's pins whose markers hold here (or in ``environment``)."""
    from packaging.markers import Marker  # in the build environment (the lock pins it); --fresh needs none
    from packaging.utils import canonicalize_name

    out: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        m = _PIN.match(line)
        if m and (m[3] is None or Marker(m[3]).evaluate(environment)):
            out[canonicalize_name(m[1])] = m[2]
    return out


def hashes_missing(lock: Path = LOCK) -> list[str]:
    """Pins without a ``--hash`` line (pip --require-hashes would refuse them)."""
    lines = lock.read_text().splitlines()
    return [m[1] for i, line in enumerate(lines) if (m := _PIN.match(line))
            and not (i + 1 < len(lines) and lines[i + 1].strip().startswith("--hash=sha256:"))]


def fresh_problems(lock: Path = LOCK) -> list[str]:
    made_from, now = lock_input.lock_sha256(lock), lock_input.sha256()
    if made_from != now:
        return [f"{lock.name} was made from other requirements than pyproject.toml and "
                "bundle-constraints.txt say today: run packaging/lock.sh and commit the new lock"]
    return []


def env_problems(lock: Path = LOCK) -> list[str]:
    from packaging.utils import canonicalize_name

    want = pins(lock)
    have = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    problems = [f"{name} {have.get(name, 'missing')} installed, the lock says {version}"
                for name, version in sorted(want.items()) if have.get(name) != version]
    problems += [f"{name} {version} installed but not in the lock"
                 for name, version in sorted(have.items()) if name not in want and name not in NOT_LOCKED]
    return problems


def main(argv: list[str]) -> int:
    problems = []
    if "--fresh" in argv:
        problems += fresh_problems()
    if "--env" in argv:
        problems += env_problems()
    for p in problems:
        print(f"lock_check: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
