#!/usr/bin/env bash
# Builds what is missing (widget tools, the widget, the server) and runs
# Natter on http://127.0.0.1:8080 with SQLite in ./data, open for
# registration. Extra arguments go to natter-server (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/widget-tools.sh
bash scripts/build-widget.sh
exec cargo run --release -p natter-server -- --allow-registration "$@"
