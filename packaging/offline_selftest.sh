#!/usr/bin/env bash
# Run the bundle's self-test with the network cut off, the way a PC beside a scanner runs it.
#
# The command runs in a new network namespace (unshare -n; unprivileged: a user namespace too): the only
# interface there is a loopback that is down, so nothing can be sent or received - a DNS lookup or a
# download attempt fails at once. The script checks that before running the command.
#
#   packaging/offline_selftest.sh                   the bundle's checks: packaging/frozen_app_check.py
#                                                   dist/ceusdesk/ceusdesk (its selftest, the evidence,
#                                                   the curve panel offscreen, no internet socket)
#   packaging/offline_selftest.sh CMD [ARGS...]     any command, e.g. dist/ceusdesk/ceusdesk selftest
#
# The bundle's checks need a Python with ceusdesk's runtime dependencies to write the phantom study:
# $CEUSDESK_CHECK_PYTHON, else build/venv (made by build.sh), else the developers' .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then
  check_python=${CEUSDESK_CHECK_PYTHON:-}
  for candidate in build/venv/bin/python .venv/bin/python; do
    if [[ -z "$check_python" && -x "$candidate" ]]; then check_python=$candidate; fi
  done
  if [[ -z "$check_python" ]]; then
    echo "offline_selftest: no Python for the bundle's checks (build/venv or .venv); set" \
         "CEUSDESK_CHECK_PYTHON, or run one command: $0 dist/ceusdesk/ceusdesk selftest" >&2
    exit 2
  fi
  if [[ ! -x dist/ceusdesk/ceusdesk ]]; then
    echo "offline_selftest: dist/ceusdesk/ceusdesk: not found (build the bundle with packaging/build.sh)" >&2
    exit 2
  fi
  set -- "$check_python" packaging/frozen_app_check.py dist/ceusdesk/ceusdesk
fi
if ! command -v "$1" >/dev/null 2>&1; then
  echo "offline_selftest: $1: not found (build the bundle with packaging/build.sh)" >&2
  exit 2
fi

if unshare -n true 2>/dev/null; then
  ISOLATE=(unshare -n --)
elif unshare --user --map-root-user -n true 2>/dev/null; then
  ISOLATE=(unshare --user --map-root-user -n --)
else
  echo "offline_selftest: cannot create a network namespace here (needs root or user namespaces)" >&2
  exit 3
fi

# Inside: prove the cut (interfaces from /proc/net/dev, which is per namespace; none may be up), then
# replace the shell with the command so its exit code is this script's.
exec "${ISOLATE[@]}" bash -c '
  ifaces=$(awk -F: "NR > 2 { gsub(/ /, \"\", \$1); print \$1 }" /proc/net/dev | tr "\n" " ")
  if [[ "$ifaces" != "lo " ]]; then
    echo "offline_selftest: network namespace has interfaces: $ifaces" >&2; exit 3
  fi
  if command -v ip >/dev/null 2>&1 && [[ -n "$(ip -o link show up)" ]]; then
    echo "offline_selftest: an interface is up inside the namespace" >&2; exit 3
  fi
  echo "offline_selftest: network cut (interfaces: ${ifaces% }, all down); running: $*" >&2
  exec "$@"
' offline_selftest "$@"
