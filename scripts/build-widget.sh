#!/usr/bin/env bash
# Builds the widget's npm package into pkg/ with wasm-pack, using the
# wasm-bindgen on PATH (nothing is downloaded by wasm-pack), then shrinks the
# wasm with wasm-opt: the one on PATH when it reads reference types
# (binaryen >= 116), else the npm `binaryen` package from tests/ (run
# `npm ci` there first; Debian's binaryen 108 is too old for Rust's output),
# and minifies the JS glue with esbuild, also from tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
# wasm-pack empties its out-dir, so it builds next to pkg/ and the output is copied in,
# leaving the committed package.json, README.md, index.js and index.d.ts alone.
out="${CARGO_TARGET_DIR:-target}/wasm-pack-out"
out="$(mkdir -p "$out" && cd "$out" && pwd)"
# Source paths of this machine (the crates' registry checkout, this directory)
# are left out of the panic locations compiled into the wasm.
# Each crate's own directory goes too (`src/lib.rs` rather than
# `tachys-0.2.19/src/lib.rs`).
remap="--remap-path-prefix=$PWD/="
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap="$remap --remap-path-prefix=$src="; done
for crate in $(cargo tree -p natter-widget --target wasm32-unknown-unknown -e normal --prefix none --format '{p}' 2>/dev/null |
  sed -n 's/^\([^ ]*\) v\([^ ]*\)$/\1-\2/p' | sort -u); do
  for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate"/; do
    if [ -d "$dir" ]; then remap="$remap --remap-path-prefix=$dir="; fi
  done
done
RUSTFLAGS="${RUSTFLAGS:-} $remap" wasm-pack --quiet build widget --mode no-install --no-pack --no-opt --target web \
  --out-dir "$out" --out-name natter_widget --profile wasm-release
cp "$out"/natter_widget.js "$out"/natter_widget.d.ts "$out"/natter_widget_bg.wasm "$out"/natter_widget_bg.wasm.d.ts pkg/
opt=wasm-opt
version=$( (wasm-opt --version 2>/dev/null || true) | grep -o 'version [0-9]*' | grep -o '[0-9]*' || true)
if [ "${version:-0}" -lt 116 ]; then opt=tests/node_modules/.bin/wasm-opt; fi
# Functions that differ only in constants (common in monomorphised code) are
# merged before the size passes; the order matters to what wasm-opt finds.
# The module owns its memory (zero-filled when created) and Rust leaves its
# lowest kilobyte unused (the stack grows down towards it), which lets
# wasm-opt fold more address arithmetic.
"$opt" --low-memory-unused --zero-filled-memory --duplicate-function-elimination --merge-similar-functions -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue --strip-debug --strip-producers \
  pkg/natter_widget_bg.wasm -o pkg/natter_widget_bg.wasm.opt
mv pkg/natter_widget_bg.wasm.opt pkg/natter_widget_bg.wasm
# The generated JS glue is served as it is to script-tag pages, so it is minified
# (esbuild from tests/, exports and import.meta kept), with the JS the widget's
# own modules import (snippets/, such as the file upload) bundled into the one file.
tests/node_modules/.bin/esbuild "$out"/natter_widget.js --bundle --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile=pkg/natter_widget.js
# Served precompressed (brotli 11 and gzip 9, chosen by the browser's
# Accept-Encoding), so what the browser downloads is compressed once, here.
shipped=(pkg/natter_widget_bg.wasm pkg/natter_widget.js pkg/index.js)
node scripts/precompress.mjs "${shipped[@]}" >/dev/null
for f in "${shipped[@]}"; do gzip -9 -n -c "$f" >"$f.gz"; done
