# Sourced by the DOA tools (under `set -euo pipefail`): installs the Debian
# packages they need (tools/deps doa) and keeps a venv with the pinned
# tools/doa/requirements.txt in target/doa-venv. Sets DOA_PYTHON to the
# venv's python.

doa_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$doa_repo/tools/deps" doa
source "$doa_repo/tools/venv.sh"
pinned_venv "$doa_repo/target/doa-venv" "$doa_repo/tools/doa/requirements.txt"
DOA_PYTHON=$doa_repo/target/doa-venv/bin/python
