# Sourced by the face tools (under `set -euo pipefail`): keeps a venv with the
# pinned tools/models/requirements.txt in target/faces-venv, made anew
# whenever that file changes. Sets FACES_PYTHON to the venv's python.

faces_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$faces_repo/tools/deps" faces

faces_venv=$faces_repo/target/faces-venv
faces_requirements=$(sha256sum < "$faces_repo/tools/models/requirements.txt" | cut -d' ' -f1)
if [[ "$(cat "$faces_venv/requirements.sha256" 2>/dev/null)" != "$faces_requirements" ]]; then
  if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "tools/models/env.sh: need python3 3.11, have $(python3 --version 2>&1)" >&2
    exit 1
  fi
  echo "tools/models/env.sh: making $faces_venv" >&2
  rm -rf "$faces_venv"
  python3 -m venv "$faces_venv"
  "$faces_venv/bin/pip" install --quiet --require-hashes --only-binary=:all: --no-deps \
    -r "$faces_repo/tools/models/requirements.txt"
  echo "$faces_requirements" > "$faces_venv/requirements.sha256"
fi
FACES_PYTHON=$faces_venv/bin/python
