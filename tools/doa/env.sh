# Sourced by the DOA tools (under `set -euo pipefail`): installs the Debian
# packages they need (tools/deps doa) and keeps a venv with the pinned
# tools/doa/requirements.txt in target/doa-venv, made anew whenever that file
# changes. Sets DOA_PYTHON to the venv's python.

doa_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$doa_repo/tools/deps" doa

doa_venv=$doa_repo/target/doa-venv
doa_requirements=$(sha256sum < "$doa_repo/tools/doa/requirements.txt" | cut -d' ' -f1)
if [[ "$(cat "$doa_venv/requirements.sha256" 2>/dev/null)" != "$doa_requirements" ]]; then
  # The pinned wheels are CPython 3.11 ones.
  if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "tools/doa/env.sh: need python3 3.11, have $(python3 --version 2>&1)" >&2
    exit 1
  fi
  echo "tools/doa/env.sh: making $doa_venv" >&2
  rm -rf "$doa_venv"
  python3 -m venv "$doa_venv"
  "$doa_venv/bin/pip" install --quiet --require-hashes --only-binary=:all: --no-deps \
    -r "$doa_repo/tools/doa/requirements.txt"
  echo "$doa_requirements" > "$doa_venv/requirements.sha256"
fi
DOA_PYTHON=$doa_venv/bin/python
