#!/usr/bin/env bash
# Installs what the widget's tests need (only what is missing) and runs them:
# native unit tests, wasm32 lints, the npm package build, the size budget,
# wasm-pack browser tests and the end-to-end tests in tests/.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
bash scripts/widget-tools.sh

cargo test -p natter-widget --locked
cargo clippy -p natter-widget --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

bash scripts/build-widget.sh
bash scripts/size-budget.sh

CHROMEDRIVER="$(command -v chromedriver)" wasm-pack test --mode no-install --headless --chrome widget

cargo build -p natter-server --locked
(cd tests && node --test --test-concurrency=1 e2e/)
bash scripts/guest-cost.sh
