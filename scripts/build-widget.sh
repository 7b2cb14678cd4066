#!/usr/bin/env bash
# Builds the widget's npm package into pkg/ with wasm-pack, using the
# wasm-bindgen and wasm-opt found on PATH (nothing is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's binaryen (wasm-opt 108) predates the reference-types instructions that
# wasm-bindgen emits when that feature is on, so the widget is built without it.
export RUSTFLAGS="-Ctarget-cpu=mvp -Ctarget-feature=+bulk-memory,+mutable-globals,+sign-ext,+nontrapping-fptoint"
wasm-pack --quiet build widget --mode no-install --no-pack --no-opt --target web \
  --out-dir ../pkg --out-name natter_widget --profile wasm-release
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --strip-debug --strip-producers pkg/natter_widget_bg.wasm -o pkg/natter_widget_bg.wasm.opt
mv pkg/natter_widget_bg.wasm.opt pkg/natter_widget_bg.wasm
rm -f pkg/.gitignore
