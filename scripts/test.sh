#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Needs root and a Docker engine;
# installs everything else it needs. Takes about 15 minutes on 2 cores from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
step() { echo; echo "== $* ($((SECONDS - t0)) s)"; }

step "dependencies"
scripts/install-deps.sh
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

step "lints: rustfmt, clippy -D warnings"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "packages (.deb, .rpm)"
scripts/build-packages.sh

step "Docker images for the end-to-end suite"
scripts/e2e-image.sh

step "tests: unit, libpam (pam_wrapper), CLI, Docker end-to-end"
cargo nextest run --workspace --no-fail-fast

if [ -x scripts/fuzz.sh ]; then
  step "fuzzing, bounded"
  scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
step "done"
