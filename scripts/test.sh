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
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$summary"

if [ -x scripts/fuzz.sh ]; then
  step "fuzzing, bounded"
  scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
step "done"
# The test count, last, in the plain form CI reads: "N passed, N failed".
awk '/tests run:/ { p = 0; f = 0
    for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p = $(i-1); if ($i ~ /^failed/) f = $(i-1) }
    line = "tests: " p " passed, " f " failed" } END { if (line) print line }' "$summary"
