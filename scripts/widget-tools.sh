#!/usr/bin/env bash
# Installs (only when missing) what building the widget needs: the wasm32
# target, wasm-bindgen-cli at the Cargo.lock version, wasm-pack, and the npm
# packages in tests/ (they carry a wasm-opt new enough for Rust's output).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
rustup target add wasm32-unknown-unknown >/dev/null 2>&1
# wasm-bindgen-cli's own lock file names a yanked crate, so it is installed unlocked.
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  cargo install wasm-bindgen-cli --version "$version" --force
fi
command -v wasm-pack >/dev/null 2>&1 || cargo install wasm-pack
if [ ! -x tests/node_modules/.bin/wasm-opt ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
  # `npm install` rather than `npm ci`: with lock files that omit download addresses, npm 11's
  # `npm ci` refuses optional platform packages it cannot see in the lock.
  (cd tests && npm install --no-audit --no-fund --loglevel=error)
fi
