# Sourced by tools that need Python packages (tools/doa/env.sh,
# tools/models/env.sh). `pinned_venv DIR REQUIREMENTS` keeps a venv in DIR
# with the hash-pinned CPython 3.11 wheels of REQUIREMENTS, made anew
# whenever that file changes.

pinned_venv() {
  local venv=$1 requirements=$2 digest
  digest=$(sha256sum < "$requirements" | cut -d' ' -f1)
  [[ "$(cat "$venv/requirements.sha256" 2>/dev/null)" == "$digest" ]] && return 0
  # The pinned wheels are CPython 3.11 ones.
  if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "tools/venv.sh: need python3 3.11, have $(python3 --version 2>&1)" >&2
    exit 1
  fi
  echo "tools/venv.sh: making $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --require-hashes --only-binary=:all: --no-deps -r "$requirements"
  echo "$digest" > "$venv/requirements.sha256"
}
