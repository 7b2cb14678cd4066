#!/usr/bin/env bash
# Prints the widget's gzip sizes and fails when a budget is exceeded:
# loader <= 6 KiB; wasm + JS glue + CSS <= 120 KiB. Run after build-widget.sh.
# The style sheet is compiled into the wasm (include_str!), so it is part of
# the wasm figure; its own size is printed for information only.
# (Zero wasm before interaction is checked by tests/e2e/chat.test.mjs.)
set -euo pipefail
cd "$(dirname "$0")/.."
gz() { gzip -9 -c "$1" | wc -c; }
loader=$(gz www/natter.js)
wasm=$(gz pkg/natter_widget_bg.wasm)
glue=$(( $(gz pkg/natter_widget.js) + $(gz pkg/index.js) ))
css=$(gz widget/style/natter.css)
widget=$((wasm + glue))
# What goes over the wire: the brotli files build-widget.sh wrote, as the server sends them.
br() { if [ -f "$1.br" ]; then wc -c <"$1.br"; else echo 0; fi; }
wire=$(( $(br pkg/natter_widget_bg.wasm) + $(br pkg/natter_widget.js) + $(br pkg/index.js) ))
printf 'loader  www/natter.js            %7d B gzip (budget  6144)\n' "$loader"
printf 'wasm    natter_widget_bg.wasm    %7d B gzip (raw %d)\n' "$wasm" "$(wc -c <pkg/natter_widget_bg.wasm)"
printf 'glue    natter_widget.js+index   %7d B gzip\n' "$glue"
printf 'css     natter.css               %7d B gzip (inside the wasm, not added again)\n' "$css"
printf 'widget  wasm+glue+css            %7d B gzip (budget 122880)\n' "$widget"
printf 'wire    the same as /pkg/ sends it %6d B brotli 11 (wasm %d)\n' "$wire" "$(br pkg/natter_widget_bg.wasm)"
fail=0
[ "$loader" -le 6144 ] || { echo "FAIL: loader over budget"; fail=1; }
[ "$widget" -le 122880 ] || { echo "FAIL: widget over budget"; fail=1; }
exit $fail
