# Sourced by the AEC tools (under `set -euo pipefail`): installs the Debian
# packages they need (tools/deps aec: espeak-ng for the talkers, a venv) and
# keeps a venv with the pinned tools/aec/requirements.txt in target/aec-venv.
# Sets AEC_PYTHON to the venv's python.

aec_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$aec_repo/tools/deps" aec
source "$aec_repo/tools/venv.sh"
pinned_venv "$aec_repo/target/aec-venv" "$aec_repo/tools/aec/requirements.txt"
AEC_PYTHON=$aec_repo/target/aec-venv/bin/python
