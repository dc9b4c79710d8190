# Sourced by the face tools (under `set -euo pipefail`): keeps a venv with the
# pinned tools/models/requirements.txt in target/faces-venv. Sets
# FACES_PYTHON to the venv's python.

faces_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$faces_repo/tools/deps" faces
source "$faces_repo/tools/venv.sh"
pinned_venv "$faces_repo/target/faces-venv" "$faces_repo/tools/models/requirements.txt"
FACES_PYTHON=$faces_repo/target/faces-venv/bin/python
