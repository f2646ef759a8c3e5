#!/usr/bin/env bash
# Runs the end-to-end suite: builds (or finds) the test image with scripts/e2e-image.sh, then
# `cargo test -p twofold-e2e`. Arguments go to the test binary, e.g. a name filter:
#   scripts/e2e-test.sh ssh_totp
# TWOFOLD_E2E_JOBS (default 4) bounds the containers running at once; see tests/src/lib.rs.
set -euo pipefail

cd "$(dirname "$0")/.."
started=$SECONDS
scripts/e2e-image.sh >/dev/null
echo "e2e-test: image ready after $((SECONDS - started)) s" >&2
status=0
cargo test -p twofold-e2e -- "$@" || status=$?
echo "e2e-test: finished after $((SECONDS - started)) s" >&2
exit "$status"
