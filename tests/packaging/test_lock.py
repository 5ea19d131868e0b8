"""The bundle is built from a lock (issue 23): exact versions with hashes, made from today's requirements,
for Linux and Windows alike. build.sh refuses a stale lock or an environment that differs from it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import bundle_rules  # noqa: E402
import lock_check  # noqa: E402
import lock_input  # noqa: E402

LINUX = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "python_version": "3.11",
         "python_full_version": "3.11.7", "platform_machine": "x86_64", "implementation_name": "cpython",
         "platform_python_implementation": "CPython"}
WINDOWS = {**LINUX, "sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
           "platform_machine": "AMD64"}


def test_the_lock_was_made_from_todays_requirements():
    assert lock_check.fresh_problems() == [], "pyproject.toml or its constraints changed: packaging/lock.sh"


def test_every_pin_carries_its_hashes():
    assert lock_check.hashes_missing() == []


@pytest.mark.parametrize("environment", [LINUX, WINDOWS], ids=["linux", "windows"])
def test_the_lock_satisfies_every_runtime_requirement_on_each_platform(environment):
    pinned = lock_check.pins(environment=environment)
    for text in lock_input.requirements():
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in the lock"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{req.name}=={pinned[name]} vs {text}"


def test_the_lock_holds_nothing_the_bundle_must_never_carry():
    never = {canonicalize_name(m) for m in bundle_rules.NEVER_BUNDLED if "." not in m}  # whole packages
    found = never & set(lock_check.pins(environment=LINUX))
    assert not found, found


def test_a_different_environment_is_named(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("definitely-not-installed==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    problems = lock_check.env_problems(lock)
    assert "definitely-not-installed missing installed, the lock says 1.0" in problems
    assert any("installed but not in the lock" in p for p in problems)  # this venv holds much more
