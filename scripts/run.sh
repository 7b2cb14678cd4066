#!/usr/bin/env bash
# Builds what is missing and runs Natter on http://127.0.0.1:8080 with SQLite
# in ./data. Extra arguments go to natter-server (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x scripts/build-widget.sh ]; then
  bash scripts/build-widget.sh
fi
exec cargo run --release -p natter-server -- "$@"
