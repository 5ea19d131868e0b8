"""Pinned model manifests: the canonical sha256 of every package the app ships or knows, kept in code.

The hashes in a manifest protect the ONNX files; nothing in the package can protect the manifest
itself (whoever edits a threshold can also edit a hash file beside it). So the record lives here, in
the app's code: a package whose manifest ``name`` is pinned loads only if its canonical sha256
(:func:`ceusdesk.model_package.manifest.canonical_sha256`) equals the pinned one. In a frozen bundle this
module is
compiled into the application archive, and the bundle's own package (its internal ``exports/``) must
be pinned. A package not pinned (a site's, a test's) still loads in a source checkout or from
``--model`` / ``models/``; the result says ``manifest_pinned: false`` and the audit log records its
manifest hash. Threat model and limits: docs/export.md.

Update after a legitimate change of a package (a new export, ``test.json`` added)::

    python -m ceusdesk.model_package.pins exports/NAME          # rewrites PINNED below for NAME
    python -m ceusdesk.model_package.pins --check exports/NAME  # exit 1 when the record differs
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from ceusdesk.base.atomicio import write_atomic
from ceusdesk.base.errors import ModelRefused

log = logging.getLogger(__name__)

# BEGIN PINNED (written by `python -m ceusdesk.model_package.pins PACKAGE`; one entry per package name)
PINNED: dict[str, dict[str, str]] = {
    "sonazoid9-phantom-v2-cpu96": {
        "manifest_sha256": "c14a84ad2a0b22b6802390bc1d240fd3452941ce8a7b9ecbed263837c368171a",
        "uid": "694ee0e8-7104-4341-9d70-f77680eb9952",
        "version": "2.0.0",
    },
    "sonazoid9-phantom-v3-cpu64": {
        "manifest_sha256": "7a5dd09f9feb73ee0c46cc7925b74a1eafe9520948ed48ddf73db1e5188cdcb5",
        "uid": "1bd37d9c-3ac6-45e7-8407-e988ad09067a",
        "version": "3.0.0",
    },
}
# END PINNED

_BLOCK = re.compile(r"(# BEGIN PINNED[^\n]*\n)(.*?)(# END PINNED)", re.S)


def check_pin(manifest_path: Path, name: str, sha256: str, *, must_be_pinned: bool = False,
              pins: Mapping[str, Mapping[str, str]] | None = None) -> bool:
    """True when ``name`` is pinned and its manifest matches; False when not pinned (and allowed).

    Raises :class:`ModelRefused` when the manifest differs from its pin, or when ``must_be_pinned``
    (the frozen bundle's own package) and it is not pinned.
    """
    pins = PINNED if pins is None else pins
    record = pins.get(name)
    if record is None:
        if must_be_pinned:
            raise ModelRefused(f"{manifest_path}: package {name!r} is not among this app's pinned packages; "
                               "the bundle's own package must be pinned - rebuild the bundle")
        return False
    if record["manifest_sha256"] != sha256:
        raise ModelRefused(
            f"{manifest_path}: manifest of package {name!r} differs from this app's pinned record "
            f"(sha256 {sha256[:12]}…, pinned {record['manifest_sha256'][:12]}…): it was edited or is "
            f"another export - reinstall it, or if it is a new export pin it: "
            f"python -m ceusdesk.model_package.pins {manifest_path.parent}"
        )
    return True


def pin_record(manifest_path: str | Path) -> tuple[str, dict[str, str]]:
    """(name, record) for a package as it is now on disk (the manifest is fully checked first)."""
    from ceusdesk.model_package.manifest import (
        load_manifest,  # manifest imports nothing from here; keep the graph one-way
    )

    manifest, sha = load_manifest(manifest_path)
    return manifest.name, {"version": manifest.version, "uid": manifest.uid, "manifest_sha256": sha}


def render(pins: Mapping[str, Mapping[str, str]]) -> str:
    """The PINNED block's Python text for ``pins`` (sorted by name, one entry per line group)."""
    if not pins:
        return "PINNED: dict[str, dict[str, str]] = {}\n"
    lines = ["PINNED: dict[str, dict[str, str]] = {"]
    for name in sorted(pins):
        lines.append(f"    {json.dumps(name)}: {{")
        lines += [f"        {json.dumps(k)}: {json.dumps(v)}," for k, v in sorted(pins[name].items())]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_pins(pins: Mapping[str, Mapping[str, str]], source: Path | None = None) -> Path:
    """Rewrite the PINNED block of this module's source file (atomically)."""
    source = source or Path(__file__)
    text = source.read_text(encoding="utf-8")
    if not _BLOCK.search(text):
        raise RuntimeError(f"{source}: the PINNED block markers are missing")
    new = _BLOCK.sub(lambda m: m.group(1) + render(pins) + m.group(3), text, count=1)
    return write_atomic(source, new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ceusdesk.model_package.pins",
                                     description="Pin model packages' manifests in the app's code.")
    parser.add_argument("packages", nargs="+", help="package folders or manifest.json files")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a record differs")
    args = parser.parse_args(argv)
    pins = {k: dict(v) for k, v in PINNED.items()}
    stale = []
    for package in args.packages:
        try:
            name, record = pin_record(package)
        except ModelRefused as err:
            print(f"model_pins: {err}", file=sys.stderr)
            return 2
        if pins.get(name) != record:
            stale.append(name)
        pins[name] = record
        print(f"{name}: manifest sha256 {record['manifest_sha256']}"
              + (" (changed)" if name in stale else " (unchanged)"))
    if args.check:
        return 1 if stale else 0
    if stale:
        print(f"pinned in {write_pins(pins)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
