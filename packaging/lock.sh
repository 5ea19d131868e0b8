#!/usr/bin/env bash
# Update the bundle's lock: packaging/requirements-bundle.txt, exact versions and sha256 hashes of every
# package the bundle is built from (ceusdesk's runtime dependencies, the `app` extra, PyInstaller), for
# Linux, Windows and macOS at once (uv's universal resolution, CPython 3.11). Then builds the bundle,
# so the size check (packaging/bundle_size.py) judges the new lock before it is committed.
#
#   packaging/lock.sh             re-resolve from pyproject.toml + packaging/bundle-constraints.txt, build
#   packaging/lock.sh --no-build  re-resolve only
#
# Review the diff of requirements-bundle.txt, and commit it with the size the build printed.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCKENV=build/lockenv
mkdir -p build
if [[ ! -x "$LOCKENV/bin/uv" ]]; then
  python3 -m venv "$LOCKENV"
  "$LOCKENV/bin/python" -m pip install -q --disable-pip-version-check "uv>=0.5,<1"
fi
python3 packaging/lock_input.py > build/requirements-bundle.in
"$LOCKENV/bin/uv" pip compile build/requirements-bundle.in --universal --generate-hashes \
  --python-version 3.11 --no-header --quiet -o build/requirements-bundle.body
{
  echo "# The bundle's lock: written by packaging/lock.sh - do not edit by hand."
  echo "# input sha256 $(python3 packaging/lock_input.py --sha256) (pyproject.toml runtime + app + PyInstaller,"
  echo "# packaging/bundle-constraints.txt); packaging/build.sh refuses a lock made from other input."
  cat build/requirements-bundle.body
} > packaging/requirements-bundle.txt
echo "lock.sh: packaging/requirements-bundle.txt: $(grep -c '==' packaging/requirements-bundle.txt) pins" >&2
if [[ "${1:-}" != "--no-build" ]]; then
  CEUSDESK_FRESH_VENV=1 packaging/build.sh
fi
