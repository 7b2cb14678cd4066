#!/usr/bin/env bash
# Installs what the tests need (idempotently) and runs every test:
# formatting, lints, the Rust test suites (SQLite, a throwaway PostgreSQL and a
# local S3),
# the API fuzzer against the generated OpenAPI, and the widget's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# A local S3 (moto's server, from PyPI) for the attachment storage tests.
. scripts/py-venv.sh
py_venv "${CARGO_TARGET_DIR:-target}/s3-venv" moto_server "moto[server]==5.2.6"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
bash scripts/fuzz-api.sh
bash scripts/test-widget.sh
