#!/usr/bin/env bash
# Build the one-folder bundle dist/ceusdesk/ (executable dist/ceusdesk/ceusdesk) for hospital IT.
#
# Makes its own build environment (build/venv) holding ceusdesk's runtime dependencies and the `app`
# extra only - never torch, onnx or the dev tools - plus PyInstaller, then runs packaging/ceusdesk.spec.
# The repo's own .venv is not touched. Re-running reuses build/venv; CEUSDESK_FRESH_VENV=1 rebuilds it.
#
#   packaging/build.sh            build, then print the bundle's size
#   packaging/build.sh --check    ... and check it offline (packaging/offline_selftest.sh): the bundle's
#                                 selftest, evidence, curve panel (offscreen), no internet socket
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${CEUSDESK_BUILD_VENV:-$ROOT/build/venv}
PYTHON=${PYTHON:-python3}

mkdir -p build
if [[ "${CEUSDESK_FRESH_VENV:-0}" == 1 ]]; then rm -rf "$VENV"; fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "build.sh: creating build environment $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi

# The bundle is built from its lock only (packaging/requirements-bundle.txt: exact versions and sha256
# hashes, made by packaging/lock.sh from pyproject.toml's runtime + app requirements): a bundle that
# changed with the day it was built could not be validated, signed or reproduced. ceusdesk itself is not
# installed: the spec puts the repo root on PyInstaller's path and the source tree is what gets frozen.
python3 packaging/lock_check.py --fresh
echo "build.sh: installing the locked requirements ($(grep -c '==' packaging/requirements-bundle.txt) pins)" >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
  -r packaging/requirements-bundle.txt
"$VENV/bin/python" packaging/lock_check.py --env || {
  echo "build.sh: $VENV differs from the lock; rebuild it with CEUSDESK_FRESH_VENV=1" >&2
  exit 1
}

# Guard: the build environment must not hold what the bundle must never carry.
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
present = [m for m in ("torch", "torchvision", "onnx", "sympy", "matplotlib") if importlib.util.find_spec(m)]
if present:
    sys.exit(f"build.sh: the build environment holds {', '.join(present)}; "
             "rebuild it with CEUSDESK_FRESH_VENV=1 (the bundle never carries these)")
PY

# Guard: the frozen app refuses its own model package unless its manifest is pinned in the code
# (ceusdesk/model_package/pins.py); a stale pin would ship a bundle whose self-test fails, so stop here instead.
for manifest in exports/*/manifest.json; do
  "$VENV/bin/python" -m ceusdesk.model_package.pins --check "$(dirname "$manifest")" >&2 || {
    echo "build.sh: $(dirname "$manifest") is not pinned as it is now: run" \
         "python -m ceusdesk.model_package.pins $(dirname "$manifest") and commit ceusdesk/model_package/pins.py" >&2
    exit 1
  }
done

"$VENV/bin/python" -m PyInstaller --noconfirm --clean \
  --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/ceusdesk.spec

if [[ "$(uname -s)" == Linux ]]; then
  "$VENV/bin/python" packaging/strip_debug.py "$ROOT/dist/ceusdesk"
  # PyInstaller links every wheel library into _internal/ too; links to libraries that were pruned or
  # no longer needed (OpenCV's gfortran once its OpenBLAS is a stand-in) point nowhere: remove them
  find "$ROOT/dist/ceusdesk" -xtype l -delete
fi
"$VENV/bin/python" packaging/bundle_size.py "$ROOT/dist/ceusdesk"

if [[ "${1:-}" == "--check" ]]; then
  packaging/offline_selftest.sh "$VENV/bin/python" packaging/frozen_app_check.py "$ROOT/dist/ceusdesk/ceusdesk"
fi
