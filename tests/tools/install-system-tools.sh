#!/usr/bin/env bash
# The Debian tools some tests run against (real software, not mocks): dicom3tools (dciodvfy validates the
# DICOM results), DCMTK (dsrdump renders the SR; storescu stores a study), Orthanc (a real PACS for
# `ceusdesk send`, started by the tests in a private network namespace), strace (the no-socket test),
# iproute2 (brings up the namespace's loopback). Idempotent. Without root or apt it installs nothing,
# says so, and the tests that need a missing tool are skipped with that reason (CI runs as root: never).
set -euo pipefail
need=()
for pair in dciodvfy:dicom3tools dsrdump:dcmtk storescu:dcmtk Orthanc:orthanc strace:strace ip:iproute2 \
            unshare:util-linux nsenter:util-linux; do
  tool=${pair%%:*}; pkg=${pair#*:}
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ] && [ ! -x "/usr/bin/$tool" ]; then
    [[ " ${need[*]-} " == *" $pkg "* ]] || need+=("$pkg")
  fi
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tests/tools: not installed (needs root and apt-get): ${need[*]}; the tests that need them will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
echo "tests/tools: installed ${need[*]}" >&2
