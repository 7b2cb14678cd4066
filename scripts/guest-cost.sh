#!/usr/bin/env bash
# Prints what the widget costs its host page in Chromium (Total Blocking Time
# and bytes, the demo page with and without the widget, then opening it), and
# fails if any wasm is downloaded before the visitor interacts. Needs the
# server built (cargo build -p natter-server), the widget in pkg/ and the npm
# packages in tests/. GUEST_COST_RUNS sets how many loads each median takes.
set -euo pipefail
cd "$(dirname "$0")/../tests"
node guest-cost.mjs
