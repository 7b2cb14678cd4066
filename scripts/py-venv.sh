#!/usr/bin/env bash
# Sourced: `py_venv DIR EXE PACKAGE…` makes a Python venv in DIR with the
# packages (from PyPI) unless DIR/bin/EXE is there already; installs Debian's
# python3-venv first when the machine lacks it.
py_venv() {
  local dir=$1 exe=$2
  shift 2
  [ -x "$dir/bin/$exe" ] && return 0
  rm -rf "$dir"
  if ! python3 -m venv "$dir" 2>/dev/null; then
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$dir"
    python3 -m venv "$dir"
  fi
  "$dir/bin/pip" install -q "$@"
}
