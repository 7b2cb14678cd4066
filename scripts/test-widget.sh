#!/usr/bin/env bash
# Installs what the widget's tests need (only what is missing) and runs them:
# native unit tests, wasm32 lints, the npm package build, the size budget,
# wasm-pack browser tests and the end-to-end tests in tests/.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

WASM_BINDGEN_VERSION=0.2.130
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v wasm-opt >/dev/null 2>&1 || need_apt+=(binaryen)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1
# wasm-bindgen-cli's own lock file names a yanked crate, so it is installed unlocked.
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
command -v wasm-pack >/dev/null 2>&1 || cargo install wasm-pack

cargo test -p natter-widget --locked
cargo clippy -p natter-widget --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

(cd tests && npm ci --no-audit --no-fund --loglevel=error)
bash scripts/build-widget.sh
bash scripts/size-budget.sh

CHROMEDRIVER="$(command -v chromedriver)" wasm-pack test --mode no-install --headless --chrome widget

cargo build -p natter-server --locked
(cd tests && node --test --test-concurrency=1 e2e/)
